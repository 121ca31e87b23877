"""A failing cell's traceback text (sandbox/py/llmrepl_session.py) is what
traceback.extract_tb and format_list give for the cells' frames, column
carets and sys.tracebacklimit included, though only the cells' frames are
extracted; and a cell that passes does not import traceback. Run in Debian's
python3 the way the sandbox runs it."""
import json
import subprocess
from pathlib import Path

PY_DIR = Path(__file__).resolve().parents[2] / "sandbox" / "py"

_DRIVER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import llmrepl_session as s

class Sink:
    def write(self, t):
        return len(t)
    def flush(self):
        pass

def extract_tb_frames(tb):
    # How the session took the cells' frames before: all extracted, then filtered.
    import traceback
    return [f for f in traceback.extract_tb(tb) if f.filename.startswith("<cell ")]

cells = json.loads(sys.argv[2])
sys.stderr = Sink()
g = s._fresh_globals()
out = {"imported": [], "cells": []}
s._cell({"code": "x = 1"}, g)
out["imported"].append("traceback" in sys.modules)
import traceback
out["walks"] = hasattr(traceback, "_get_code_position") and hasattr(
    traceback.StackSummary, "_extract_from_extended_frame_gen")
new = s._cell_frames
for i, code in enumerate(cells):
    # Each cell twice on the same state: with the session's frames, then
    # with extract_tb's (a cell that sets sys.tracebacklimit does it again).
    got = s._cell({"code": code, "base": i + 1}, g)
    s._cell_frames = extract_tb_frames
    want = s._cell({"code": code, "base": i + 1}, g)
    s._cell_frames = new
    if hasattr(sys, "tracebacklimit"):
        del sys.tracebacklimit
    out["cells"].append({"got": got.get("traceback"), "want": want.get("traceback")})
print(json.dumps(out))
"""

CELLS = [
    "def f(x):\n    return x[1] + 2\n",
    "f([1])",
    "f(None)",
    "1/0",
    "import json\ndef h(t):\n    return json.loads(t)\n",
    "h('[' * 30 + 'x')",
    "def r(n):\n    return r(n + 1)\nr(0)",
    "import sys\nsys.tracebacklimit = 2\nh('{')",
    "import sys\nsys.tracebacklimit = -1\nf(3)",
    "raise ValueError('two\\nlines')",
    "class E(Exception):\n    pass\nraise E()",
    "x = (1 +\n",
    "sorted([1, 'a'])",
]


def test_failing_cells_traceback_text_is_extract_tbs():
    p = subprocess.run(["/usr/bin/python3", "-I", "-S", "-B", "-c", _DRIVER, str(PY_DIR),
                        json.dumps(CELLS)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    assert out["imported"] == [False]  # a passing cell does not import traceback
    assert out["walks"]  # Debian's 3.11: the session's own walk, not the fallback
    for code, c in zip(CELLS, out["cells"]):
        assert c["got"] == c["want"], code
    texts = [c["got"] for c in out["cells"] if c["got"]]
    assert len(texts) == len(CELLS) - 2  # the two definitions pass
    assert any("^^^" in t for t in texts)  # column carets kept
    assert any("json.loads" in t and "<cell 6>" in t for t in texts)
