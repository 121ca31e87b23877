"""Redis memory stays bounded under sustained load: finished jobs are
measured as they end and, past --max-finished-mb, forgotten oldest first;
queued and running jobs never are. With a Redis whose maxmemory is far
below what a day of jobs would need, every job is still accepted and
finished."""
import time

MB = 1 << 20

SYSTEM = {"prefix": "ret:"}  # the system fixture's (tests/conftest.py)


def spec(i, extra=""):
    return {"spec": f'{{"kind":"evaluate","code":"v = {i}\\nprint(\'{extra}\' * 20)\\n'
                    f'assert v == {i}","static_checks":false}}'}


def submit_all(system, n, batch=200, extra=""):
    ids = []
    for start in range(0, n, batch):
        pipe = system.r.pipeline(transaction=False)
        for i in range(start, min(n, start + batch)):
            pipe.xadd(system.prefix + "requests", spec(i, extra))
        ids += pipe.execute()
    return ids


def wait_done(system, n, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = system.stats()
        if int(st.get("total:done", 0)) + int(st.get("total:rejected", 0)) >= n:
            return st
        time.sleep(0.2)
    raise AssertionError(f"not all done: {system.stats()}")


def test_oldest_finished_jobs_are_forgotten_first(system):
    system.dispatcher("--max-finished-mb", "1")
    system.worker()
    system.worker()
    ids = submit_all(system, 400, extra="x")
    st = wait_done(system, 400)
    system.wait_for(lambda: int(system.stats()["finished_bytes"]) <= MB, what="retention")
    st = system.stats()
    assert st["total:submitted"] == "400" and st["total:done"] == "400"
    assert st["total:done:evaluate"] == "400" and st["total:passed"] == "400"
    evicted = int(st["total:evicted"])
    assert 100 < evicted < 400, st
    kept = [jid for jid in ids if system.r.exists(system.key("job", jid))]
    # Oldest first (in finishing order; two workers finish nearly in id order).
    assert len(kept) + evicted == 400
    assert set(kept) >= set(ids[len(ids) - len(kept) + 20:])
    assert not set(kept) & set(ids[:len(ids) - len(kept) - 20])
    for jid in kept[:3]:
        assert system.job(jid)["state"] == "done"
        assert [e["type"] for e in system.events(jid)] == ["queued", "running", "done"]
    gone = ids[0]
    assert not system.r.exists(system.key("job", gone, "events"))
    # The index matches what is kept, and its bytes add up.
    members = system.r.zrange(system.prefix + "finished", 0, -1)
    assert sorted(m.split()[0] for m in members) == sorted(kept)
    finished = [int(system.job(m.split()[0])["finished"]) for m in members]
    assert finished == sorted(finished)
    assert sum(int(m.split()[1]) for m in members) == int(st["finished_bytes"])


def test_running_and_queued_jobs_are_never_forgotten(system):
    d = system.dispatcher()  # no limit
    w = system.worker()
    done = submit_all(system, 50)
    wait_done(system, 50)
    w.stop()
    slow = system.submit({"kind": "evaluate", "code": "import time\ntime.sleep(3)",
                          "static_checks": False})
    waiting = [system.submit({"kind": "evaluate", "code": "x = 1", "static_checks": False})
               for _ in range(3)]
    system.worker()
    system.wait(slow, states={"running"})
    # A limit below a single job: every finished job goes, nothing else.
    d.stop()
    d = system.dispatcher("--max-finished-mb", "0.001")
    system.wait_for(lambda: not any(system.r.exists(system.key("job", j)) for j in done),
                    what="finished jobs forgotten")
    assert system.job(slow)["state"] == "running"
    for jid in waiting:
        assert system.job(jid)["state"] == "queued"
    d.stop()
    system.dispatcher()  # no limit again, so the jobs stay to be read
    assert system.wait(slow)["state"] == "done"
    for jid in waiting:
        assert system.wait(jid)["state"] == "done"


def test_maxmemory_redis_accepts_and_finishes_every_job(system):
    """Jobs arrive as fast as the workers finish them (the live queue stays
    small), for longer than Redis could keep them all for a day."""
    r = system.r
    r.config_set("maxmemory", 12 * MB)
    r.config_set("maxmemory-policy", "noeviction")
    system.dispatcher("--max-finished-mb", "2")
    system.worker()
    system.worker()
    n, batch = 2000, 50
    ids = []
    for start in range(0, n, batch):
        # Keep at most two batches in flight.
        system.wait_for(lambda: int(system.stats().get("total:done", 0)) >= start - batch,
                        timeout=120, what="the workers to keep up")
        pipe = r.pipeline(transaction=False)
        for i in range(start, start + batch):
            pipe.xadd(system.prefix + "requests", spec(i, "y" * 10))
        ids += pipe.execute()  # raises if Redis refused a request (OOM)
    st = wait_done(system, n, timeout=300)
    assert st["total:submitted"] == str(n) and st.get("total:rejected") is None
    bad = [system.job(j) for j in ids[-300:]]
    bad = [(h.get("error"), h.get("summary")) for h in bad if h.get("passed") == "0"]
    assert st["total:done"] == str(n) and st["total:passed"] == str(n), bad[:3]
    assert int(st["total:evicted"]) > n // 2  # far more than fits was run
    # Retention runs on the dispatcher's timer: within a tick of the last job.
    system.wait_for(lambda: int(system.stats()["finished_bytes"]) <= 2 * MB, timeout=10,
                    what="retention after the last job")
    assert r.info("memory")["used_memory"] < 12 * MB
    # The newest are readable.
    assert system.job(ids[-1])["state"] == "done"
    for p in system.procs:
        assert "OOM" not in p.log()
