"""Jobs survive what production does to them: a worker killed or frozen
mid-job, a job that kills every worker it touches, Redis restarting."""
import json
import signal

from jobsys import evaluate


def finals(system, jid):
    return [e for e in system.events(jid) if e["type"] in ("done", "cancelled", "dead",
                                                           "rejected")]


def test_worker_killed_mid_job_is_reclaimed_once(system):
    system.dispatcher()
    a = system.worker()
    jid = system.submit(evaluate("import time\ntime.sleep(1.5)\nprint('finished')\n"))
    h = system.wait(jid, states={"running"})
    assert h["worker"] == a.name
    a.signal(signal.SIGKILL)
    a.p.wait(timeout=10)
    b = system.worker()
    h = system.wait(jid, timeout=60)
    assert h["state"] == "done" and h["passed"] == "1", h
    assert h["attempt"] == "2" and h["worker"] == b.name and h["failures"] == "1"
    assert "stopped renewing its lease during attempt 1" in h["last_failure"]
    types = [e["type"] for e in system.events(jid)]
    assert types.count("lease_expired") == 1 and types.count("retry") == 1
    assert len(finals(system, jid)) == 1
    assert "finished" in json.loads(h["result"])["stdout"]
    stats = system.stats()
    assert stats["total:reclaimed"] == "1" and stats["running"] == "0"


def test_frozen_worker_resumed_after_its_lease_cannot_write(system):
    system.dispatcher()
    a = system.worker()
    jid = system.submit(evaluate("import time\ntime.sleep(1.5)\nprint('attempt done')\n"))
    system.wait(jid, states={"running"})
    a.signal(signal.SIGSTOP)
    # Past the lease: the job is reclaimed and run again elsewhere.
    b = system.worker()
    h = system.wait(jid, timeout=60)
    assert h["state"] == "done" and h["attempt"] == "2" and h["worker"] == b.name
    before = system.job(jid)
    ev_before = system.events(jid)
    a.signal(signal.SIGCONT)
    # The stale worker's next write is refused: its lease renewal (then it
    # drops the run) or its result, whichever comes first.
    system.wait_for(lambda: "not running attempt 1" in a.log(), timeout=30,
                    what="the refusal in a's log")
    assert "refused: job %s is done at attempt 2, not running attempt 1" % jid in a.log()
    assert system.job(jid) == before
    assert system.events(jid) == ev_before
    assert a.alive()
    # It goes back to work normally.
    nxt = system.submit(evaluate("x = 1"))
    assert system.wait(nxt)["state"] == "done"


def test_job_that_always_kills_its_worker_ends_dead_while_others_flow(system):
    system.dispatcher(**{"max-attempts": 3})
    workers = [system.worker(supervise=True, **{"fault-abort-marker": "CRASH-THE-WORKER"})
               for _ in range(2)]
    poison = system.submit(evaluate("x = 1  # CRASH-THE-WORKER"))
    others = [system.submit(evaluate(f"assert {i} + 1 == {i + 1}")) for i in range(12)]
    h = system.wait(poison, timeout=90)
    assert h["state"] == "dead", h
    assert h["error"].endswith("gave up after 3 failed attempts"), h["error"]
    assert h["attempt"] == "3"
    dead = system.r.xrange(system.prefix + "dead")
    assert [d["job"] for _, d in dead] == [poison]
    for jid in others:
        o = system.wait(jid, timeout=60)
        assert o["state"] == "done" and o["passed"] == "1", o
    assert sum(w.restarts for w in workers) == 3
    assert system.stats()["total:dead"] == "1"


def test_redis_restart_mid_run_loses_nothing(system):
    system.settings["lease-ms"] = 3000
    system.dispatcher()
    for _ in range(2):
        system.worker()
    ids = [system.submit(evaluate(f"import time\ntime.sleep(0.05)\nassert {i} >= 0\n"))
           for i in range(40)]
    system.wait_for(lambda: int(system.stats().get("total:done", 0)) >= 8, timeout=60,
                    what="some jobs done")
    system.redis.restart()
    system.r = system.redis.client()
    more = [system.submit(evaluate(f"assert {i} < 100")) for i in range(10)]
    for jid in ids + more:
        h = system.wait(jid, timeout=90)
        assert h["state"] == "done" and h["passed"] == "1", (jid, h)
        assert len(finals(system, jid)) == 1, system.events(jid)
    stats = system.stats()
    assert stats["total:done"] == str(len(ids) + len(more))
    assert stats["queued"] == "0" and stats["running"] == "0"
    assert system.r.xpending(system.prefix + "jobs", "workers")["pending"] == 0
