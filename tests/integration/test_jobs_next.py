"""A worker's finish takes the next job along (lr_q_finish_next: one script,
one round trip): the next queued job, an entry routed to the worker first,
entries that are not a job's passed over, nothing taken while it stops.
Real dispatcher and worker processes, the real sandbox, a private Redis; the
worker's LLMREPL_JOB_TRACE lines tell a job the worker read and claimed
itself (`q.*` phases: its pending list, the blocking read, the claim) from one
that came with the previous finish (none)."""
import signal

from jobsys import evaluate

SLOW = evaluate("import time\ntime.sleep(1.5)\n")


def claimed_by_read(worker):
    """For each job the worker ran, in order: did it read and claim it itself?"""
    lines = [ln.split()[2:] for ln in worker.log().splitlines() if ln.startswith("job-trace ")]
    return [any(p.startswith("q.") for p in ph) for ph in lines]


def traced(system, worker, n):
    """claimed_by_read once n jobs have their lines: a job's line is written
    after its result is recorded, so it may come after the job reads done."""
    system.wait_for(lambda: len(claimed_by_read(worker)) >= n, what=f"{n} job-trace lines")
    return claimed_by_read(worker)


def queued_while(system, jid, *specs):
    system.wait(jid, states={"running"})
    ids = [system.submit(s) for s in specs]
    for i in ids:
        system.wait(i, states={"queued"})
    return ids


def test_the_finish_claims_the_next_queued_job(system):
    system.dispatcher()
    w = system.worker(job_trace=1)
    a = system.submit(SLOW)
    # Not a job's entry (written by hand): passed over and removed.
    junk = system.r.xadd(system.prefix + "jobs", {"foo": "bar"})
    b, c = queued_while(system, a, evaluate("x = 1"), evaluate("y = 2"))
    for jid in (a, b, c):
        h = system.wait(jid)
        assert h["state"] == "done" and h["passed"] == "1" and h["attempt"] == "1", h
        types = [e["type"] for e in system.events(jid)]
        assert types == ["queued", "running", "done"], types
    # a was read and claimed; b came with a's finish, c with b's.
    assert traced(system, w, 3) == [True, False, False]
    # One running attempt each, nothing left pending or in the stream.
    assert system.r.xlen(system.prefix + "jobs") == 0
    assert system.r.xpending(system.prefix + "jobs", "workers")["pending"] == 0
    assert not system.r.xrange(system.prefix + "jobs", junk, junk)
    st = system.stats()
    assert st["running"] == "0" and st["queued"] == "0" and st["total:done"] == "3"


def test_an_entry_routed_to_the_worker_comes_first(system):
    system.dispatcher()
    w = system.worker(job_trace=1)
    a = system.submit(SLOW)
    b, c = queued_while(system, a, evaluate("x = 1"), evaluate("y = 2"))
    # Both entries delivered to this worker's pending list (as the claim's
    # routing leaves them), then b's moved on to a consumer that never
    # claims it: c is the worker's, and a's finish must find it there.
    key = system.prefix + "jobs"
    got = system.r.xreadgroup("workers", w.name, {key: ">"}, count=2)
    (eb, _), (ec, _) = got[0][1]
    system.r.xclaim(key, "workers", "elsewhere", 0, [eb], justid=True)
    assert system.wait(c)["attempt"] == "1"
    assert traced(system, w, 2)[:2] == [True, False]
    # b waits in the other consumer's list until the orphan scan gives it
    # back; then it runs once.
    h = system.wait(b)
    assert h["state"] == "done" and h["passed"] == "1" and h["attempt"] == "1", h


def test_a_stopping_worker_takes_nothing_more(system):
    system.dispatcher()
    w = system.worker()
    a = system.submit(SLOW)
    (b,) = queued_while(system, a, evaluate("x = 1"))
    w.signal(signal.SIGTERM)
    assert w.p.wait(timeout=30) == 0
    assert system.job(a)["state"] == "done"
    h = system.job(b)
    assert h["state"] == "queued" and h["attempt"] == "0", h
    system.worker()
    h = system.wait(b)
    assert h["state"] == "done" and h["attempt"] == "1" and h["failures"] == "0", h
    assert [e["type"] for e in system.events(b)] == ["queued", "running", "done"]
