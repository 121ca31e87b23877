"""LLMREPL_JOB_TRACE=1: a dispatcher and a worker print one `job-trace` line
per request and per job, the phases in the order they happened (the
per-phase breakdown in docs/architecture.md, Evaluation speed, comes from
these lines through bench/sbx_trace.py)."""
import subprocess
import sys
from pathlib import Path

from jobsys import evaluate

ROOT = Path(__file__).resolve().parents[2]


def phases(log, what):
    lines = [ln.split() for ln in log.splitlines() if ln.startswith("job-trace " + what + " ")]
    return [[w.partition("=")[0] for w in ln[2:]] for ln in lines], lines


def test_trace_lines_name_every_phase_of_an_evaluate_job(system, tmp_path):
    d = system.dispatcher(job_trace=1)
    w = system.worker(job_trace=1)
    ids = [system.submit(evaluate("def f():\n    return 1\n", tests=["assert f() == 1"]))
           for _ in range(3)]
    for jid in ids:
        assert system.wait(jid)["state"] == "done"
    system.stop_all()
    names, lines = phases(w.log(), "evaluate")
    assert len(names) == 3, w.log()[-2000:]
    for n in names:
        assert n[0] == "total"
        # the spec, the sandbox run, the judge, the record (which claims the
        # next job along when one is queued)
        for p in ("w.parse", "e.run", "e.judge", "w.finish"):
            assert p in n, n
        assert n.index("w.parse") < n.index("e.run") < n.index("w.finish")
    assert "q.claim" in names[0]  # the first was read and claimed
    for ln in lines:
        assert all(int(x.partition("=")[2]) >= 0 for x in ln[2:])
    dnames, _ = phases(d.log(), "intake")
    assert len(dnames) == 3 and all("d.intake" in n for n in dnames), d.log()[-2000:]
    # bench/sbx_trace.py reads them
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "sbx_trace.py"),
                          str(w.logpath)], capture_output=True, text=True, check=True).stdout
    assert "evaluate (3 runs)" in out and "e.run" in out


def test_no_trace_lines_without_the_setting(system):
    w = system.worker()
    system.dispatcher()
    jid = system.submit(evaluate("x = 1\n"))
    assert system.wait(jid)["state"] == "done"
    system.stop_all()
    assert "job-trace" not in w.log()
