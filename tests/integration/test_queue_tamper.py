"""Someone with redis-cli writes into the system's keys: wrong types, deleted
fields, garbage and huge values, shared keys replaced. Real dispatcher and
worker processes against a real redis-server. Every time the tampered job
ends final (dead-lettered with the reason) or is put right, the other jobs
keep flowing, no process is stuck and the counters stay right."""
import subprocess
import time

import pytest

from conftest import binary
from jobsys import evaluate

QUICK = evaluate("print('ok')\n", tests=["assert True"])


def cli(system, *args):
    return system.redis.cli(*map(str, args)).strip()


def flows(system, n=2, timeout=60):
    """New jobs still go through, start to end (`done`: the queue's part; the
    verdict is the sandbox's)."""
    ids = [system.submit(QUICK) for _ in range(n)]
    for jid in ids:
        h = system.wait(jid, timeout=timeout)
        assert h["state"] == "done" and h["attempt"] == "1", h


def dead_letters(system):
    return {f["job"]: f["error"] for _, f in system.r.xrange(system.key("dead"))}


def counters_settle(system):
    def ok():
        s = system.stats()
        return s.get("queued", "0") == "0" and s.get("running", "0") == "0" and \
            s.get("retry_wait", "0") == "0"
    system.wait_for(ok, timeout=20, what=f"live counters at 0: {system.stats()}")


@pytest.mark.parametrize("sweep_first", [False, True], ids=["claim_first", "sweep_first"])
def test_tampered_queued_jobs_are_dead_lettered_with_the_reason(system, sweep_first):
    system.dispatcher()
    ids = {name: system.submit(QUICK) for name in
           ("attempt", "nostate", "string", "events_max", "entry", "spec", "kind", "huge",
            "events", "fine")}
    for jid in ids.values():
        system.wait(jid, states={"queued"})
    k = lambda name: system.key("job", ids[name])  # noqa: E731
    system.r.hset(k("attempt"), "attempt", "x")
    system.r.hdel(k("nostate"), "state")
    system.r.delete(k("string"))
    system.r.set(k("string"), "hello")
    system.r.hset(k("events_max"), "events_max", "abc")
    system.r.hset(k("entry"), "entry", "garbage")
    system.r.hdel(k("spec"), "spec")
    system.r.hset(k("kind"), "kind", "rm -rf")
    system.r.hset(k("huge"), "spec", "{" + "x" * (3 << 20))
    system.r.delete(k("events") + ":events")
    system.r.set(k("events") + ":events", "junk")
    if sweep_first:  # the dispatcher's repair meets them before any worker
        system.wait_for(lambda: ids["string"] in dead_letters(system), timeout=10,
                        what="the sweep")
    worker = system.worker()
    expect = {
        "attempt": "field 'attempt' is 'x', not an integer",
        "nostate": "it has no field 'state'",
        "string": "its key is a string, not a hash",
        "events_max": "field 'events_max' is 'abc', not an integer",
        "entry": "field 'entry' is 'garbage', not a stream entry id",
        "spec": "it has no field 'spec'",
        "kind": "field 'kind' is 'rm -rf', not a job kind",
        "huge": "the worker cannot read the recorded spec",
        "events": "events is a string, not a stream",
    }
    for name, why in expect.items():
        jid = ids[name]
        system.wait_for(lambda: jid in dead_letters(system), timeout=30,
                        what=f"{name} dead-lettered")
        assert why in dead_letters(system)[jid], (name, dead_letters(system)[jid])
        if name != "string":
            h = system.job(jid)
            assert h["state"] == "dead" and why in h["error"], (name, h)
            assert system.r.ttl(k(name)) > 0
    assert system.wait(ids["fine"])["state"] == "done"
    flows(system)
    counters_settle(system)
    assert worker.alive()
    assert system.r.xpending(system.key("jobs"), "workers")["pending"] == 0
    assert system.r.xlen(system.key("jobs")) == 0


def test_tampered_running_jobs_end_and_redis_stays_responsive(system):
    system.dispatcher()
    system.worker()
    system.worker()
    slow = evaluate("import time\ntime.sleep(3)\nprint('done')\n")
    big = system.submit(slow)
    gone = system.submit(slow)
    system.wait(big, states={"running"})
    system.wait(gone, states={"running"})
    # A number a user set must not make the finish script work ten million
    # times (Redis would answer BUSY for half a minute).
    system.r.hset(system.key("job", big), "iterations", "10000000")
    system.r.delete(system.key("job", gone))
    system.r.set(system.key("job", gone), "x")
    h = system.wait(big, timeout=30)
    assert h["state"] == "dead" and "field 'iterations' is '10000000'" in h["error"], h
    system.wait_for(lambda: gone in dead_letters(system), timeout=30, what="gone buried")
    assert "its key is a string" in dead_letters(system)[gone]
    assert cli(system, "PING") == "PONG"
    flows(system)
    counters_settle(system)


def test_shared_keys_replaced_or_deleted_are_repaired(system):
    d = system.dispatcher()
    w = system.worker()
    flows(system, 1)
    # The work stream replaced while workers block on it, the counters and
    # the leases of the wrong type, a counter that is not a number.
    system.r.delete(system.key("jobs"))
    system.r.set(system.key("jobs"), "oops")
    system.r.delete(system.key("leases"))
    system.r.lpush(system.key("leases"), "x")
    system.r.hset(system.key("stats"), "running", "abc")
    # Retention's index and the callback outbox too.
    system.r.delete(system.key("finished"))
    system.r.set(system.key("finished"), "oops")
    system.r.set(system.key("callbacks"), "oops")
    flows(system, 2, timeout=60)
    broken = sorted(system.r.scan_iter(system.key("broken") + ":*"))
    assert any(":jobs:" in b for b in broken) and any(":leases:" in b for b in broken), broken
    assert any(":finished:" in b for b in broken) and any(":callbacks:" in b for b in broken)
    assert system.r.type(system.key("finished")) == "zset"
    assert system.stats()["running"] == "0"
    # The work stream deleted while a job waits in it: queued again.
    w.stop()
    jid = system.submit(QUICK)
    system.wait(jid, states={"queued"})
    system.r.delete(system.key("jobs"))
    system.worker()
    assert system.wait(jid, timeout=30)["state"] == "done"
    assert "redelivered" in [e["type"] for e in system.events(jid)]
    assert "repair:" in d.log()
    counters_settle(system)


def test_requests_and_stats_of_the_wrong_type(system):
    system.dispatcher()
    system.worker()
    system.r.set(system.key("requests"), "x")
    system.r.delete(system.key("stats"))
    system.r.sadd(system.key("stats"), "y")
    system.wait_for(lambda: system.r.type(system.key("requests")) == "stream", timeout=20,
                    what="requests repaired")
    system.wait_for(lambda: system.r.type(system.key("stats")) in ("hash", "none"), timeout=20,
                    what="stats repaired")
    flows(system, 2)


def test_a_worker_that_cannot_take_jobs_says_so_and_recovers(system):
    # No dispatcher: nobody repairs, the worker must keep trying and say why.
    w = system.worker()
    system.wait_for(lambda: system.r.zcard(system.key("workers")) == 1, what="registered")
    system.r.delete(system.key("jobs"))
    system.r.set(system.key("jobs"), "not a stream")
    rec = system.key("worker", w.name)
    system.wait_for(lambda: system.r.hget(rec, "problem"), timeout=20, what="problem reported")
    problem = system.r.hget(rec, "problem")
    assert "cannot take jobs (broken data)" in problem and "WRONGTYPE" in problem, problem
    out = subprocess.run([binary("llmrepl"), "stats"], capture_output=True, text=True,
                         env=system.env(), timeout=30)
    assert "PROBLEM: cannot take jobs" in out.stdout, out.stdout
    time.sleep(2)
    log = w.log()
    # Logged once, not every 100 ms.
    assert log.count("cannot take jobs") <= 2, log
    system.r.delete(system.key("jobs"))
    system.wait_for(lambda: system.r.hget(rec, "problem") == "", timeout=20,
                    what="problem cleared")
    system.dispatcher()
    flows(system, 1)
    assert "taking jobs again" in w.log()


def test_dispatcher_logs_a_persistent_error_once(system):
    d = system.dispatcher()
    time.sleep(0.5)
    # A busy script would be the real thing; a stats counter that comes back
    # broken after every repair is the same to the dispatcher's loop.
    deadline = time.time() + 3
    while time.time() < deadline:
        system.r.hset(system.key("stats"), "queued", "broken")
        time.sleep(0.01)
    time.sleep(0.5)
    lines = [ln for ln in d.log().splitlines() if "ERROR" in ln]
    assert len(lines) <= 3, "\n".join(lines[:20])
    system.worker()
    flows(system, 1)


def test_log_lines_cannot_be_forged(system):
    d = system.dispatcher()
    jid = system.submit('{"kind": "evaluate", "code": "x=1", '
                        '"a\\n2026-01-01T00:00:00.000Z ERROR llmrepl-worker[1]: forged\\u001b[2J": 1}')
    h = system.wait(jid, timeout=20)
    assert h["state"] == "rejected" and "\n" in h["error"]
    system.wait_for(lambda: jid in d.log(), what="rejection logged")
    log = d.log()
    assert not any(ln.startswith("2026-01-01") for ln in log.splitlines()), log
    assert "\\n2026-01-01" in log and "\x1b" not in log and "\\x1b[2J" in log


def test_writes_refused_under_maxmemory_lose_no_result(system):
    """Redis refuses every write for several leases (maxmemory) while a job
    runs and finishes: its result is recorded once Redis takes writes again,
    by the attempt that computed it; no process gives up."""
    d = system.dispatcher()
    w = system.worker()
    jid = system.submit(evaluate("import time\ntime.sleep(1)\nprint('computed')\n"))
    system.wait(jid, states={"running"})
    cli(system, "CONFIG", "SET", "maxmemory", "1")
    try:
        time.sleep(4)  # the job finishes meanwhile; lease 1 s
        assert system.job(jid)["state"] == "running"
    finally:
        cli(system, "CONFIG", "SET", "maxmemory", "0")
    h = system.wait(jid, timeout=30)
    assert h["state"] == "done" and h["passed"] == "1" and h["attempt"] == "1", h
    assert "computed" in h["result"]
    assert system.stats().get("total:reclaimed", "0") == "0"
    assert "redis refuses writes" in d.log() + w.log()
    assert d.alive() and w.alive()
    flows(system, 1)


def test_a_busy_redis_stops_no_one_for_good(system):
    """A script someone runs keeps Redis busy (BUSY to everyone else): workers
    and dispatchers wait it out, say why, and take jobs again when it ends."""
    d = system.dispatcher()
    w = system.worker()
    flows(system, 1)
    port = str(system.redis.port)
    cli(system, "CONFIG", "SET", "busy-reply-threshold", "100")
    busy = subprocess.Popen(["redis-cli", "-p", port, "EVAL", "while true do end", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
    finally:
        subprocess.run(["redis-cli", "-p", port, "SCRIPT", "KILL"], capture_output=True,
                       timeout=10)
        busy.wait(timeout=10)
    flows(system, 2)
    assert d.alive() and w.alive()
    assert "BUSY" in d.log() + w.log()


def sweep(system, count):
    """One whole pass of the dispatcher's repair sweep, pages of `count` keys:
    (script calls, jobs and keys put right)."""
    out = subprocess.run([binary("tests/drivers/queue_probe"), system.redis.url, system.prefix,
                          "repair", str(count)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    calls, fixed = map(int, out.stdout.split())
    return calls, fixed


def test_the_repair_sweep_passes_kept_finished_jobs_cheaply(system):
    """With finished jobs kept, nearly every job a sweep page meets is final
    and expiring, which leaves nothing to put right: the sweep reads two
    things of such a job (its state, its expiry), not the whole job, so a page
    holds Redis briefly. What needs repair still is repaired in the same pass."""
    d = system.dispatcher()
    w = system.worker()
    ids = [system.submit(QUICK) for _ in range(60)]
    for jid in ids:
        assert system.wait(jid)["state"] == "done"
    w.stop()
    d.stop()
    lost = ids[7]  # a finished job that lost its expiry (a hand on the keys)
    system.r.persist(system.key("job", lost))
    system.r.config_resetstat()
    calls, fixed = sweep(system, 200)
    stats = {k[len("cmdstat_"):]: v["calls"] for k, v in system.r.info("commandstats").items()}
    # What the scripts themselves asked of Redis beside the pages' own SCAN:
    # two commands per finished job, the whole check of the one that lost its
    # expiry and the shared keys' check every call makes (about 25 in all);
    # reading every job whole took six per job (380 here).
    inner = sum(n for c, n in stats.items()
                if c not in ("evalsha", "eval", "script|load", "scan", "info"))
    assert fixed == 1 and system.r.ttl(system.key("job", lost)) > 0
    assert inner <= 3 * len(ids) + 20 * calls, (calls, stats)
