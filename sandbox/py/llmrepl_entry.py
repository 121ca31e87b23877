"""llmrepl_entry.py - the sandbox's entry program: python3 -I -S -B -u this.

Everything is in llmrepl_sbx (see there); a script is compiled on every
start, a module comes from its .pyc, so this file stays two lines long.
"""
import sys

sys.path.insert(0, __file__.rpartition("/")[0])
import llmrepl_sbx  # noqa: E402

del sys.path[0]
llmrepl_sbx.main(sys.argv[1:])
