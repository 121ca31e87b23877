"""Jobs end to end with a real dispatcher, real workers and the real sandbox:
submitting with redis-cli and polling, cancelling a running job, clean
shutdown, and the llmrepl client."""
import json
import signal
import subprocess

from conftest import binary
from jobsys import evaluate


def test_submit_with_redis_cli_and_poll_to_done(system):
    system.dispatcher()
    system.worker()
    jid = system.submit(evaluate("def add(a, b):\n    return a + b\nprint('hi')\n",
                                 tests=["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]))
    assert system.job(jid).get("state", "queued") in {"queued", "running", "done"}
    h = system.wait(jid)
    assert h["state"] == "done", h
    assert h["passed"] == "1", h
    assert h["attempt"] == "1" and h["kind"] == "evaluate"
    result = json.loads(h["result"])
    for key in ("stdout", "stderr", "error", "tests"):
        assert key in result, result
    assert "hi" in result["stdout"]
    types = [e["type"] for e in system.events(jid)]
    assert types[0] == "queued" and types[-1] == "done" and "running" in types
    # The documented redis-cli way to follow a job ends on its final event.
    out = system.redis.cli("XREAD", "COUNT", "100", "STREAMS", system.key("job", jid, "events"),
                           "0")
    assert "done" in out


def test_failing_code_is_done_not_passed(system):
    system.dispatcher()
    system.worker()
    jid = system.submit(evaluate("def add(a, b):\n    return a - b\n",
                                 tests=["assert add(1, 2) == 3"]))
    h = system.wait(jid)
    assert h["state"] == "done" and h["passed"] == "0"
    assert h["error"], h


def test_cancel_a_running_job(system):
    system.dispatcher()
    w = system.worker()
    c = system.submit(evaluate("import time\ntime.sleep(2)\n"))
    system.wait(c, states={"running"})
    out = system.llmrepl("cancel", c)
    assert out.returncode == 0 and "was running" in out.stdout
    assert system.job(c)["state"] == "cancelled"
    # The worker learns it through its lease; its late result is refused and
    # it is free again: the next job runs and passes.
    d = system.submit(evaluate("x = 3"))
    assert system.wait(d)["passed"] == "1"
    h = system.job(c)
    assert h["state"] == "cancelled" and h["error"] == "cancelled by llmrepl cancel"
    assert [e["type"] for e in system.events(c)].count("cancelled") == 1
    assert system.r.ttl(system.key("job", c)) > 0
    assert system.r.xlen(system.prefix + "jobs") == 0
    assert w.alive()


def test_sigterm_finishes_the_running_job_then_exits(system):
    system.dispatcher()
    w = system.worker()
    jid = system.submit(evaluate("import time\ntime.sleep(1)\n"))
    system.wait(jid, states={"running"})
    w.signal(signal.SIGTERM)
    assert w.p.wait(timeout=30) == 0
    h = system.job(jid)
    assert h["state"] == "done" and h["passed"] == "1" and h["attempt"] == "1"
    # It left the registry and the consumer group.
    assert system.r.zcard(system.prefix + "workers") == 0
    assert system.r.xinfo_consumers(system.prefix + "jobs", "workers") == []


def test_client_submit_wait_status_events(system):
    system.dispatcher()
    system.worker()
    out = system.llmrepl("submit", "--code", "def f():\n    return 1\n", "--tests",
                 "assert f() == 1", "--wait", "--json")
    assert out.returncode == 0, out.stderr
    job = json.loads(out.stdout)
    assert job["state"] == "done" and job["passed"] == "1"
    assert isinstance(job["result"], dict) and isinstance(job["spec"], dict)
    jid = job["id"]
    out = system.llmrepl("status", jid)
    assert out.returncode == 0 and f"job {jid}: done, passed" in out.stdout
    out = system.llmrepl("events", jid, "--json")
    types = [json.loads(line)["type"] for line in out.stdout.splitlines()]
    assert types == ["queued", "running", "done"]
    spec = '{"kind": "evaluate", "code": "assert 1 == 2", "static_checks": false}'
    out = subprocess.run([binary("llmrepl"), "submit", "-", "--wait"], input=spec,
                         capture_output=True, text=True, env=system.env(), timeout=60)
    assert out.returncode == 1 and "done, not passed" in out.stdout
    # wait: 4 on timeout, 2 for no such job.
    slow = system.llmrepl("submit", "--code", "import time\ntime.sleep(3)\n").stdout.strip()
    out = system.llmrepl("wait", slow, "--timeout", "0.5")
    assert out.returncode == 4 and "timed out" in out.stderr
    out = system.llmrepl("wait", "1-1")
    assert out.returncode == 2 and "no job 1-1" in out.stderr
    out = system.llmrepl("events", slow, "--follow", "--timeout", "30")
    assert out.returncode == 0 and out.stdout.splitlines()[-1].split()[1] == "done"
    out = system.llmrepl("stats", "--json")
    stats = json.loads(out.stdout)
    assert stats["total:done"] >= 3 and len(stats["workers"]) == 1
