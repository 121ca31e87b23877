"""1,000 jobs through 4 workers and 2 dispatchers: each finishes exactly once,
and afterwards nothing of them stays in Redis."""
import time

N = 1000

SYSTEM = {"prefix": "scale:", "ttl-s": 5}  # the system fixture's (tests/conftest.py)


def test_thousand_jobs_four_workers_each_exactly_once_then_memory_is_freed(system):
    for _ in range(2):
        system.dispatcher()
    for _ in range(4):
        system.worker()
    pipe = system.r.pipeline(transaction=False)
    for i in range(N):
        pipe.xadd(system.prefix + "requests",
                  {"spec": f'{{"kind":"evaluate","code":"v = {i}\\nassert v == {i}",'
                           f'"static_checks":false}}'})
    ids = pipe.execute()
    assert len(set(ids)) == N
    # Final jobs expire after 5 s, so confirm each one as it finishes.
    unconfirmed = set(ids)
    deadline = time.time() + 300
    while unconfirmed and time.time() < deadline:
        batch = sorted(unconfirmed)
        pipe = system.r.pipeline(transaction=False)
        for jid in batch:
            pipe.hmget(system.key("job", jid), "state", "passed", "attempt")
            pipe.xrange(system.key("job", jid, "events"))
        res = pipe.execute()
        for jid, h, ev in zip(batch, res[0::2], res[1::2]):
            if h[0] in (None, "queued", "running"):
                assert h[0] is not None or jid in unconfirmed
                continue
            assert h == ["done", "1", "1"], (jid, h, system.job(jid))
            types = [f["type"] for _, f in ev]
            assert types == ["queued", "running", "done"], (jid, types)
            unconfirmed.discard(jid)
        time.sleep(0.2)
    assert not unconfirmed, f"{len(unconfirmed)} jobs not done"
    assert system.r.zcard(system.prefix + "workers") == 4
    stats = system.stats()
    assert stats["total:submitted"] == str(N)
    assert stats["total:passed"] == str(N)
    assert stats["queued"] == "0" and stats["running"] == "0"
    assert "total:reclaimed" not in stats and "total:stale_writes" not in stats
    # Nothing pending, nothing left in the streams.
    assert system.r.xpending(system.prefix + "jobs", "workers")["pending"] == 0
    assert system.r.xpending(system.prefix + "requests", "dispatchers")["pending"] == 0
    assert system.r.xlen(system.prefix + "jobs") == 0
    assert system.r.xlen(system.prefix + "requests") == 0
    assert system.r.zcard(system.prefix + "leases") == 0
    # Final jobs expire with all their keys.
    system.wait_for(lambda: not any(True for _ in system.r.scan_iter(
        match=system.prefix + "job:*", count=1000)), timeout=30, what="job keys to expire")
