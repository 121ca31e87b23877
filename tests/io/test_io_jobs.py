"""io tests in jobs: a real dispatcher and worker on a private Redis, the
spec submitted with redis-cli and with `llmrepl submit --io-tests`, a spec
the dispatcher refuses, and a cancelled job that stops between cases."""
import json
import sys
from pathlib import Path


ADD = "a, b = map(int, input().split())\nprint(a + b)\n"
CASES = [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "10 -3\n", "stdout": "7\n"}]


def test_evaluate_job_with_io_tests(system):
    system.dispatcher()
    system.worker()
    good = system.submit({"kind": "evaluate", "code": ADD, "tests": {"io": CASES}})
    bad = system.submit({"kind": "evaluate", "code": ADD.replace("a + b", "a - b"),
                         "tests": {"io": CASES, "checker": "exact",
                                   "stop_on_failure": True}})
    h = system.wait(good)
    assert h["state"] == "done" and h["passed"] == "1", h
    assert (h["tests_passed"], h["tests_total"]) == ("2", "2")
    r = json.loads(h["result"])
    assert r["form"] == "io" and r["integrity"] == "split"
    assert [t["io"]["actual"] for t in r["tests"]] == ["3\n", "7\n"]
    h = system.wait(bad)
    assert h["state"] == "done" and h["passed"] == "0"
    r = json.loads(h["result"])
    assert [t["status"] for t in r["tests"]] == ["failed", "not_run"]
    assert "case 1" in h["error"] and 'expected "3\\n", got "-1\\n"' in h["error"]
    # the normalised spec keeps the form
    spec = json.loads(system.job(bad)["spec"])
    assert spec["tests"]["checker"] == "exact" and spec["tests"]["stop_on_failure"] is True


def test_a_spec_with_broken_io_tests_is_rejected(system):
    system.dispatcher()
    jid = system.submit({"kind": "evaluate", "code": ADD,
                         "tests": {"io": [{"stdin": "1 2\n", "stdot": "3\n"}]}})
    h = system.wait(jid)
    assert h["state"] == "rejected"
    assert "tests.io[0]" in h["error"], h["error"]


def test_client_submit_io_tests_from_a_file(system, tmp_path):
    system.dispatcher()
    system.worker()
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps({"io": CASES, "checker": "lines"}))
    prog = tmp_path / "prog.py"
    prog.write_text(ADD)
    out = system.llmrepl("submit", "--code-file", str(prog), "--io-tests", str(cases),
                 "--wait", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    job = json.loads(out.stdout)
    assert job["passed"] in ("1", 1, True), job
    # a file that is not io cases is named before anything is submitted
    cases.write_text('{"io": [{"stdin": 1}]}')
    out = system.llmrepl("submit", "--code-file", str(prog), "--io-tests", str(cases))
    assert out.returncode == 2 and "tests.io[0].stdin" in out.stderr, out.stderr


def test_cancelled_job_stops_between_cases(system):
    system.dispatcher()
    system.worker()  # one slot: the next job waits for the cancelled one to end
    slow = "import time\ntime.sleep(3)\n" + ADD
    jid = system.submit({"kind": "evaluate", "code": slow, "static_checks": False,
                         "tests": {"io": CASES * 20}})  # 40 cases of 3 s: 120 s
    system.wait(jid, states={"running"})
    out = system.llmrepl("cancel", jid)
    assert out.returncode == 0, out.stderr
    nxt = system.submit({"kind": "evaluate", "code": ADD, "tests": {"io": CASES}})
    # The worker gives up the cancelled job at the next case (the one running
    # ends in 3 s), not after its 40: the next job is done within a wait that
    # is far shorter than the 120 s the cancelled job would have taken.
    h = system.wait(nxt, timeout=60)
    assert h["state"] == "done" and h["passed"] == "1", h
    assert system.job(jid)["state"] == "cancelled"


def test_forgeries_fail_through_jobs(system):
    """The forgeries of tests/io/test_io_eval.py, as evaluate jobs on Redis."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_io_eval import FORGERIES

    system.dispatcher()
    system.worker()
    ids = {name: system.submit({"kind": "evaluate", "code": code, "static_checks": False,
                                "tests": {"io": [{"stdin": "1 2\n", "stdout": "3\n"}]}})
           for name, code in FORGERIES.items()}
    for name, jid in ids.items():
        h = system.wait(jid)
        assert h["state"] == "done" and h["passed"] == "0", (name, h)
        assert h["tests_passed"] == "0", (name, h)
