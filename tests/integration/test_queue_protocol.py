"""The job protocol (common/queue and its Lua scripts) step by step against a
real redis-server: what a dispatcher and workers do, interleaved on purpose
(a stale worker writing after its job was reclaimed, a consumer that vanished
between reading and claiming, ...). A custom prefix keeps it honest."""
import os
import subprocess
import time

import pytest

from conftest import binary

PREFIX = "t1:"


class Probe:
    def __init__(self, server, **policy):
        self.server = server
        self.env = dict(os.environ)
        for k, v in policy.items():
            self.env["QP_" + k.upper()] = str(v)

    def __call__(self, *args, ok=True):
        out = subprocess.run([binary("tests/drivers/queue_probe"), self.server.url, PREFIX,
                              *map(str, args)], capture_output=True, text=True, timeout=30,
                             env=self.env)
        if ok:
            assert out.returncode == 0, out.stderr
            return out.stdout.strip()
        assert out.returncode == 1, (out.stdout, out.stderr)
        return out.stderr.strip()


@pytest.fixture
def r(redis_server):
    return redis_server.client()


def submit(r, spec):
    return r.xadd(PREFIX + "requests", {"spec": spec})


def job(r, jid):
    return r.hgetall(f"{PREFIX}job:{jid}")


def events(r, jid):
    return [f for _, f in r.xrange(f"{PREFIX}job:{jid}:events")]


def queue_one(q, r, spec='{"kind":"evaluate","code":"x=1"}'):
    jid = submit(r, spec)
    lines = q("take", "d1", 10, 1 << 20).splitlines()
    assert lines == [f"{jid}\t{spec}"]
    assert q("intake", jid, "queued", "evaluate", spec, "") == "queued"
    return jid


def test_happy_path_and_cleanup(redis_server, r):
    q = Probe(redis_server, ttl=50)
    q("groups")
    jid = queue_one(q, r)
    assert r.xlen(PREFIX + "requests") == 0
    assert job(r, jid)["state"] == "queued"
    got = q("next", "w1", 5000).split()
    assert got == [jid, "1", "evaluate"]
    assert job(r, jid)["state"] == "running"
    assert q("write", jid, 1, "progress", "half", 1, "git:objects") == "ok"
    assert q("event", jid, 1, "progress", "half way") == "ok"
    r.set(f"{PREFIX}job:{jid}:git:objects", "x")
    assert q("finish", jid, 1, 1, '{"tests": []}', "", "all good") == "done"
    # Repeating a finish whose reply was lost is harmless.
    assert q("finish", jid, 1, 1, '{"tests": []}', "", "all good") == "done"
    h = job(r, jid)
    assert h["state"] == "done" and h["passed"] == "1" and h["summary"] == "all good"
    assert h["iterations"] == "1" and "error" not in h
    assert [e["type"] for e in events(r, jid)] == ["queued", "running", "progress", "done"]
    for key in (f"job:{jid}", f"job:{jid}:events", f"job:{jid}:it:1", f"job:{jid}:git:objects"):
        assert 0 < r.ttl(PREFIX + key) <= 50, key
    assert r.xlen(PREFIX + "jobs") == 0
    assert r.xpending(PREFIX + "jobs", "workers")["pending"] == 0
    stats = r.hgetall(PREFIX + "stats")
    assert stats["queued"] == "0" and stats["running"] == "0"
    assert stats["total:done"] == "1" and stats["total:passed"] == "1"
    assert r.zcard(PREFIX + "leases") == 0


def test_take_rejects_oversized_and_specless_requests_inside_redis(redis_server, r):
    q = Probe(redis_server)
    q("groups")
    big = submit(r, '{"kind":"evaluate","code":"' + "x" * 5000 + '"}')
    none = r.xadd(PREFIX + "requests", {"code": "x=1"})
    fine = submit(r, '{"kind":"evaluate","code":"y"}')
    lines = q("take", "d1", 10, 1000).splitlines()
    assert [l.split("\t")[0] for l in lines] == [fine]
    assert job(r, big)["state"] == "rejected"
    assert job(r, big)["error"] == "spec is 5029 bytes, over the limit of 1000 bytes"
    assert job(r, none)["error"] == "request must have exactly one field 'spec' (and at most one 'owner'); it has 'code'"
    assert r.xlen(PREFIX + "requests") == 1  # only `fine`, still pending for d1
    # Intake is idempotent: a second dispatcher recording it changes nothing.
    assert q("intake", fine, "rejected", "", "", "bad") == "rejected"
    assert q("intake", fine, "queued", "evaluate", "{}", "") == "exists"
    assert job(r, fine)["state"] == "rejected"
    assert r.xlen(PREFIX + "requests") == 0


def test_stale_worker_is_fenced_after_reclaim(redis_server, r):
    q = Probe(redis_server, backoff_ms=1)
    q("groups")
    jid = queue_one(q, r)
    assert q("next", "w1", 200).split()[1] == "1"
    assert q("renew", jid, 1, "w1", 200) == "ok"
    time.sleep(0.3)  # w1 stalls past its lease
    assert q("reclaim") == "1"
    assert job(r, jid)["state"] == "retry_wait"
    time.sleep(0.05)
    assert q("promote") == "1"
    assert q("next", "w2", 5000).split() == [jid, "2", "evaluate"]
    # w1 wakes up: every kind of write is refused and changes nothing.
    for args in (("write", jid, 1, "code", "late", "-", "-"),
                 ("event", jid, 1, "progress", "late"),
                 ("finish", jid, 1, 1, "{}", "", "late"),
                 ("fail", jid, 1, "retry", "late")):
        err = q(*args, ok=False)
        assert err.startswith("stale:"), err
        assert "not running attempt 1" in err
    assert "stale" in q("renew", jid, 1, "w1", 200, ok=False)
    assert q("finish", jid, 2, 0, '{"n": 2}', "assertion failed", "1/2 tests") == "done"
    h = job(r, jid)
    assert h["state"] == "done" and h["attempt"] == "2" and h["result"] == '{"n": 2}'
    assert h["error"] == "assertion failed" and h["worker"] == "w2" and "code" not in h
    assert int(r.hget(PREFIX + "stats", "total:stale_writes")) == 4
    types = [e["type"] for e in events(r, jid)]
    assert types == ["queued", "running", "lease_expired", "retry", "queued", "running", "done"]
    assert [e["type"] for e in events(r, jid)].count("done") == 1
    assert r.xpending(PREFIX + "jobs", "workers")["pending"] == 0


def redis_ms(r):
    s, us = r.time()
    return s * 1000 + us // 1000


def test_failures_back_off_then_dead_letter(redis_server, r):
    q = Probe(redis_server, max_attempts=3, backoff_ms=1000)
    q("groups")
    jid = queue_one(q, r)
    delays = []
    for attempt in (1, 2, 3):
        assert q("next", "w", 5000).split()[1] == str(attempt)
        out = q("fail", jid, attempt, "retry", "sandbox unavailable")
        if attempt < 3:
            assert out == "retry"
            h = job(r, jid)
            assert h["state"] == "retry_wait"
            delays.append(int(h["retry_at"]) - int(h["updated"]))
            # Not due yet: decided by Redis's clock, read after the promotion
            # (a probe started late on a loaded machine may find it due).
            out = q("promote")
            if redis_ms(r) < int(h["retry_at"]):
                assert out == "0"
            time.sleep(max(0, int(h["retry_at"]) - redis_ms(r)) / 1000 + 0.05)
            assert q("promote") == "1" or out == "1"
        else:
            assert out == "dead"
    assert 800 <= delays[0] <= 1200 and 1600 <= delays[1] <= 2400  # 1000 * 2^(n-1), +-20%
    h = job(r, jid)
    assert h["state"] == "dead"
    assert h["error"] == "sandbox unavailable; gave up after 3 failed attempts"
    dead = r.xrange(PREFIX + "dead")
    assert len(dead) == 1 and dead[0][1]["job"] == jid
    assert r.ttl(PREFIX + f"job:{jid}") > 0


def test_release_is_not_a_failure(redis_server, r):
    q = Probe(redis_server, max_attempts=1)
    q("groups")
    jid = queue_one(q, r)
    q("next", "w1", 5000)
    assert q("fail", jid, 1, "release", "worker shutting down") == "queued"
    assert job(r, jid)["failures"] == "0"
    assert q("next", "w2", 5000).split() == [jid, "2", "evaluate"]
    assert q("fail", jid, 2, "dead", "no handler") == "dead"


def test_cancel_in_every_state(redis_server, r):
    q = Probe(redis_server, backoff_ms=60000)
    q("groups")
    queued = queue_one(q, r)
    assert q("cancel", queued) == "cancelled queued"
    assert q("next", "w", 5000) == "none"  # its entry is gone from the work stream
    running = queue_one(q, r)
    q("next", "w", 5000)
    assert q("cancel", running) == "cancelled running"
    assert q("finish", running, 1, 1, "{}", "", "x", ok=False).startswith("stale:")
    assert "is cancelled" in q("renew", running, 1, "w", 1000, ok=False)
    waiting = queue_one(q, r)
    q("next", "w", 5000)
    q("fail", waiting, 1, "retry", "boom")
    assert q("cancel", waiting) == "cancelled retry_wait"
    assert r.zcard(PREFIX + "delayed") == 0
    assert "already cancelled" in q("cancel", waiting, ok=False)
    assert "no job 1-1" in q("cancel", "1-1", ok=False)
    assert "not a job id" in q("cancel", "nope", ok=False)
    for jid in (queued, running, waiting):
        h = job(r, jid)
        assert h["state"] == "cancelled" and h["error"] == "cancelled by probe"
    stats = r.hgetall(PREFIX + "stats")
    assert stats["total:cancelled"] == "3"
    assert stats["queued"] == stats["running"] == stats["retry_wait"] == "0"
    assert r.xpending(PREFIX + "jobs", "workers")["pending"] == 0


def test_orphaned_delivery_is_redelivered(redis_server, r):
    q = Probe(redis_server)
    q("groups")
    jid = queue_one(q, r)
    # A worker reads the entry and dies before claiming it.
    r.xreadgroup("workers", "ghost", {PREFIX + "jobs": ">"}, count=1)
    assert q("next", "w", 5000) == "none"
    time.sleep(0.05)
    assert q("orphans", 10) == "1"
    assert q("next", "w", 5000).split() == [jid, "1", "evaluate"]
    assert "redelivered" in [e["type"] for e in events(r, jid)]
    # Junk written to the work stream by hand is dropped, not crashed on.
    r.xadd(PREFIX + "jobs", {"job": "../etc"})
    assert q("next", "w", 5000) == "none"


def test_registry_and_gc(redis_server, r):
    q = Probe(redis_server)
    q("groups")
    q("heartbeat", "w9", 5000)
    assert r.zscore(PREFIX + "workers", "w9") is not None
    assert 0 < r.pttl(PREFIX + "worker:w9") <= 5000
    r.xreadgroup("workers", "w9", {PREFIX + "jobs": ">"}, count=1, block=1)
    q("unregister", "w9")
    assert r.zscore(PREFIX + "workers", "w9") is None
    assert not r.exists(PREFIX + "worker:w9")
    assert [c["name"] for c in r.xinfo_consumers(PREFIX + "jobs", "workers")] == []
    r.xreadgroup("workers", "old", {PREFIX + "jobs": ">"}, count=1, block=1)
    q("heartbeat", "gone", 5000)
    time.sleep(0.05)
    q("gc", 10, 10)
    assert r.xinfo_consumers(PREFIX + "jobs", "workers") == []
    assert r.zcard(PREFIX + "workers") == 0


def test_iterations_of_jobs_recorded_before_the_its_set_still_expire(redis_server, r):
    """A job written by an older version has iteration hashes and `iterations`
    but no `job:<id>:its`: finishing it expires them all, and a new iteration
    written to it first lists the earlier ones."""
    q = Probe(redis_server, ttl=50)
    q("groups")
    old = queue_one(q, r)
    assert q("next", "w1", 5000).split()[1] == "1"
    for n in (0, 1):
        r.hset(f"{PREFIX}job:{old}:it:{n}", "code", f"v{n}")
    r.hset(f"{PREFIX}job:{old}", "iterations", "1")
    assert q("finish", old, 1, 1, "{}", "", "old") == "done"
    for n in (0, 1):
        assert 0 < r.ttl(f"{PREFIX}job:{old}:it:{n}") <= 50
    mixed = queue_one(q, r)
    assert q("next", "w1", 5000).split()[1] == "1"
    for n in (0, 1, 2):
        r.hset(f"{PREFIX}job:{mixed}:it:{n}", "code", f"v{n}")
    r.hset(f"{PREFIX}job:{mixed}", "iterations", "2")
    assert q("write", mixed, 1, "code", "v3", 3, "-") == "ok"
    assert r.smembers(f"{PREFIX}job:{mixed}:its") == {"0", "1", "2", "3"}
    assert r.hget(f"{PREFIX}job:{mixed}", "iterations") == "3"
    assert q("finish", mixed, 1, 1, "{}", "", "mixed") == "done"
    for n in (0, 1, 2, 3):
        assert 0 < r.ttl(f"{PREFIX}job:{mixed}:it:{n}") <= 50
    assert 0 < r.ttl(f"{PREFIX}job:{mixed}:its") <= 50


def test_a_spec_over_the_reply_limit_is_dead_lettered_not_left_running(redis_server, r):
    """The claim would hand back a spec bigger than the worker's reply limit:
    refused inside Redis (the job dead-lettered with the sizes), rather than
    claimed and then lost with the reply."""
    q = Probe(redis_server)
    small = Probe(redis_server, reply_max=1 << 20)
    q("groups")
    jid = queue_one(q, r)
    r.hset(f"{PREFIX}job:{jid}", "spec", "x" * (2 << 20))
    assert small("next", "w1", 5000) == "none"
    h = job(r, jid)
    assert h["state"] == "dead" and h["attempt"] == "0", {k: v[:80] for k, v in h.items()}
    assert "its spec is 2097152 bytes, over the limit of 524288 bytes" in h["error"]
    assert r.zcard(PREFIX + "leases") == 0 and r.xlen(PREFIX + "jobs") == 0
    assert r.xpending(PREFIX + "jobs", "workers")["pending"] == 0
    stats = r.hgetall(PREFIX + "stats")
    assert stats["queued"] == "0" and stats.get("running", "0") == "0"
    assert stats["total:dead"] == "1"
    fine = queue_one(q, r)
    assert small("next", "w1", 5000).split()[0] == fine
