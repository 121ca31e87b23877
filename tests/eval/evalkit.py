"""Helpers for the evaluation suites.

`harness` calls the evaluation harness (sandbox/py/llmrepl_harness.py) directly
in a child interpreter of Debian's python3, the way the sandbox's entry does,
and returns its answer: these tests pin down the harness itself. The suites
that go through the sandbox use build/llmrepl-eval.
"""
import json
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY_DIR = ROOT / "sandbox" / "py"
PYTHON = "/usr/bin/python3"

_DRIVER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
sys.path.append("/usr/lib/python3/dist-packages")  # as the sandbox's entry does
import llmrepl_harness
reqs = json.load(sys.stdin)
out = [llmrepl_harness.evaluate(r) for r in reqs]
with open(sys.argv[2], "w") as f:  # not stdout: the code may write there itself
    json.dump(out, f)
"""


def run_harness(requests, timeout=300, isolate=True):
    """Evaluate a list of requests in one interpreter; returns the answers.
    Several requests share the interpreter, so each runs isolated unless the
    request says otherwise (in-process runs are tested one per interpreter)."""
    requests = [dict({"isolate": isolate}, **r) for r in requests]
    with tempfile.NamedTemporaryFile("r", suffix=".json") as answers:
        proc = subprocess.run([PYTHON, "-I", "-S", "-B", "-c", _DRIVER, str(PY_DIR),
                               answers.name], input=json.dumps(requests),
                              capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.load(answers)


def run_inline(request, timeout=120):
    """One request in-process in a fresh interpreter, as in the sandbox's
    request child. Returns (exit status, answer or None)."""
    req = dict(request, isolate=False)
    with tempfile.NamedTemporaryFile("r", suffix=".json") as answers:
        proc = subprocess.run([PYTHON, "-I", "-S", "-B", "-c", _DRIVER, str(PY_DIR),
                               answers.name], input=json.dumps([req]),
                              capture_output=True, text=True, timeout=timeout)
        text = answers.read()
        return proc.returncode, (json.loads(text)[0] if text else None)


def case(ans, fragment):
    """The test case whose name contains fragment."""
    hits = [t for t in ans["tests"] if fragment in t["name"]]
    assert len(hits) == 1, (fragment, [t["name"] for t in ans["tests"]])
    return hits[0]

