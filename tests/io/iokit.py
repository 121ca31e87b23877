"""Helpers for the io test suites: run build/llmrepl-eval on a program with
io cases and return its JSON report."""
import json
import os
import subprocess

from conftest import binary


def io_file(tmp_path, cases, checker=None, stop_on_failure=None, name="cases.json"):
    spec = {"io": [{"stdin": i, "stdout": o} for i, o in cases]}
    if checker is not None:
        spec["checker"] = checker
    if stop_on_failure is not None:
        spec["stop_on_failure"] = stop_on_failure
    path = tmp_path / name
    path.write_text(json.dumps(spec))
    return path


def evaluate(tmp_path, code, cases, *args, checker=None, stop_on_failure=None, pool=True,
             timeout=300, env=None):
    """The report of llmrepl-eval --json --io-tests on `code`."""
    prog = tmp_path / "prog.py"
    prog.write_text(code)
    spec = io_file(tmp_path, cases, checker, stop_on_failure)
    argv = [binary("llmrepl-eval"), "--json", "--io-tests", str(spec), *args]
    if pool:
        argv.append("--pool")
    proc = subprocess.run(argv + [str(prog)], capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else dict(os.environ, **env))
    assert proc.returncode in (0, 1), proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["passed"] == (proc.returncode == 0)
    return rep


def statuses(rep):
    return [t["status"] for t in rep["tests"]]
