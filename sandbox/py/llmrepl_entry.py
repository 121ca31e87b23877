"""llmrepl_entry.py - the sandbox's entry program: python3 -I -S -B -u this.

Everything is in llmrepl_sbx (see there); a script is compiled on every
start, a module comes from its .pyc, so this file stays a few lines long:
it chooses the pool's server or the candidate factory (llmrepl_pool), or a
run (llmrepl_sbx).
"""
import sys

sys.path.insert(0, __file__.rpartition("/")[0])
import llmrepl_sbx  # noqa: E402

del sys.path[0]
if sys.argv[1:2] == ["--server"] or sys.argv[1:] in (["--factory"], ["--factory", "--second"]):
    import llmrepl_pool

    llmrepl_pool.entry(sys.argv[1:])
else:
    llmrepl_sbx.main(sys.argv[1:])
