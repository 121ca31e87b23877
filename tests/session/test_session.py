"""REPL sessions end to end: a real dispatcher, real workers, the real sandbox.

A session is its record on Redis; the worker holding it answers its cells
warm, and any other worker can answer one by replaying the recorded cells."""
import json
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import binary


def open_session(system, **fields):
    h = system.wait(system.submit({"kind": "session_open", **fields}))
    assert h["state"] == "done" and h["passed"] == "1", h
    return h["session"]


def registered(system, *workers):
    """Wait until each worker's record is there (its first beat): the claim
    routes cells only to workers it can see."""
    for p in workers:
        system.wait_for(lambda: system.r.hget(system.key("worker", p.name), "sessions") is not None,
                        what=f"{p.name} registered")


def cell(system, sid, code, timeout=60):
    h = system.wait(system.submit({"kind": "exec", "session": sid, "code": code}),
                    timeout=timeout)
    assert h["state"] == "done", h
    h["report"] = json.loads(h["result"])
    return h


@pytest.mark.parametrize("held", [8, 0])
def test_state_is_kept_across_cells(system, held):
    """Held: the worker keeps the session's interpreter; 0: every cell runs
    once in a fresh sandbox run that replays the session first."""
    system.dispatcher()
    system.worker(sessions_held=held)
    sid = open_session(system)
    h = cell(system, sid, "import math\nx = 41\nprint('set')")
    assert h["passed"] == "1" and h["stdout"] == "set\n" and h["value"] == "", h
    assert h["replayed"] == "0" and h["cell"] == "1"
    h = cell(system, sid, "def f(y):\n    return x + y\nf(1)")
    assert h["value"] == "42" and h["stdout"] == "", h
    assert h["replayed"] == ("0" if held else "1"), h
    h = cell(system, sid, "[math.floor(2.5), _]")
    assert h["value"] == "[2, 42]", h
    h = cell(system, sid, "x / 0")
    assert h["passed"] == "0" and h["error"].startswith("ZeroDivisionError"), h
    assert "<cell 4>" in h["report"]["traceback"], h["report"]
    # An error is part of the session, as in a REPL; what it did before stays.
    h = cell(system, sid, "y = 5\nundefined_name")
    assert h["passed"] == "0" and "NameError" in h["error"]
    h = cell(system, sid, "x + y")
    assert h["value"] == "46", h
    rec = system.r.hgetall(system.key("session", sid))
    assert rec["cells"] == "6" and rec["state"] == "open", rec
    assert len(system.r.lrange(system.key("session", sid, "cells"), 0, -1)) == 6


def test_two_sessions_never_see_each_other(system):
    system.dispatcher()
    system.worker()
    system.worker()
    a, b = open_session(system), open_session(system)
    ja = system.submit({"kind": "exec", "session": a, "code": "secret = 'a'"})
    jb = system.submit({"kind": "exec", "session": b, "code": "other = 'b'"})
    assert system.wait(ja)["passed"] == "1" and system.wait(jb)["passed"] == "1"
    h = cell(system, b, "'secret' in globals(), other")
    assert h["value"] == "(False, 'b')", h
    h = cell(system, a, "secret, 'other' in globals()")
    assert h["value"] == "('a', False)", h


def test_idle_session_ends_by_itself(system):
    system.dispatcher()
    system.worker()
    sid = open_session(system, idle_timeout_s=30)
    assert cell(system, sid, "x = 1")["passed"] == "1"
    keys = [system.key("session", sid), system.key("session", sid, "cells")]
    assert all(0 < system.r.pttl(k) <= 30000 for k in keys)  # it ends by itself
    # Idle time passes (its clock set to 10 s before the end, in Redis) ...
    for k in keys:
        system.r.pexpire(k, 20000)
    assert cell(system, sid, "x")["value"] == "1"
    # ... and a use starts the clock again: back to (about) the full 30 s.
    assert all(system.r.pttl(k) > 20000 for k in keys), [system.r.pttl(k) for k in keys]
    for k in keys:  # the idle time runs out
        system.r.pexpire(k, 1)
    system.wait_for(lambda: not any(system.r.exists(k) for k in keys), what="the expiry")
    h = cell(system, sid, "x")
    assert h["passed"] == "0" and "does not exist" in h["error"], h
    assert not system.r.exists(system.key("session", sid))
    assert not system.r.exists(system.key("session", sid, "cells"))


def test_limits_each_with_a_clear_error(system):
    system.dispatcher()
    system.worker()
    sid = open_session(system, max_cells=3, limits={"timeout_s": 1, "memory_mb": 64})
    assert cell(system, sid, "x = 1")["passed"] == "1"
    h = cell(system, sid, "while True:\n    x += 1", timeout=60)  # ended by its 1 s limit
    assert h["passed"] == "0" and "time limit of 1 s" in h["error"], h
    assert "not part of the session" in h["error"]
    h = cell(system, sid, "try:\n    while True: pass\nexcept BaseException:\n    while True: pass")
    assert h["passed"] == "0" and "time limit" in h["error"], h
    h = cell(system, sid, "big = bytearray(300 << 20)")
    assert h["passed"] == "0" and "memory limit of 64 MB" in h["error"], h
    h = cell(system, sid, "x")  # the session goes on from before the stopped cells
    assert h["passed"] == "1" and h["value"] == "1", h
    assert h["replayed"] == "1", h  # the stopped cell ended the interpreter
    assert cell(system, sid, "z = 3")["passed"] == "1"
    h = cell(system, sid, "z")
    assert h["passed"] == "0" and "limit of 3 cells" in h["error"], h


def test_output_and_process_limits(system):
    system.dispatcher()
    system.worker()
    sid = open_session(system)
    assert cell(system, sid, "x = 7")["passed"] == "1"
    h = cell(system, sid, "print('y' * (3 << 20))")
    assert h["passed"] == "0" and "more output than the limit" in h["error"], h
    h = cell(system, sid, "import threading, time\n"
                          "ts = [threading.Thread(target=time.sleep, args=(1,)) for _ in range(200)]\n"
                          "for t in ts:\n    t.start()")
    assert h["passed"] == "0" and "thread" in h["error"], h
    h = cell(system, sid, "x")
    assert h["passed"] == "1" and h["value"] == "7", h


def test_spec_validation(system):
    system.dispatcher()
    for spec, needle in (({"kind": "exec", "code": "1"}, "session"),
                         ({"kind": "exec", "session": "nope", "code": "1"}, "session id"),
                         ({"kind": "session_open", "idle_timeout_s": -1}, "idle_timeout_s"),
                         ({"kind": "session_close"}, "session")):
        h = system.wait(system.submit(spec))
        assert h["state"] == "rejected" and needle in h["error"], (spec, h)


def test_close_ends_the_session(system):
    system.dispatcher()
    system.worker()
    sid = open_session(system)
    assert cell(system, sid, "x = 1")["passed"] == "1"
    h = system.wait(system.submit({"kind": "session_close", "session": sid}))
    assert h["passed"] == "1" and h["summary"] == f"session {sid} closed", h
    h = cell(system, sid, "x")
    assert h["passed"] == "0" and "does not exist" in h["error"]
    h = system.wait(system.submit({"kind": "session_close", "session": sid}))
    assert h["passed"] == "0" and "does not exist" in h["error"]


def test_worker_killed_between_cells_next_cell_answered_elsewhere(system):
    system.dispatcher()
    w1 = system.worker()
    sid = open_session(system)
    assert cell(system, sid, "import random\nrandom.seed(7)\ndata = [1, 2, 3]")["passed"] == "1"
    assert cell(system, sid, "data.append(4)")["passed"] == "1"
    w1.signal(signal.SIGKILL)
    w1.p.wait()
    system.worker()
    h = cell(system, sid, "sum(data), random.random() < 1")
    assert h["passed"] == "1" and h["value"] == "(10, True)", h
    assert h["replayed"] == "2" and h["worker"] != w1.name, h


def test_held_interpreter_keeps_live_state_and_a_new_worker_replays(system):
    system.dispatcher()
    w1 = system.worker()
    sid = open_session(system)
    assert cell(system, sid, "import random\nrng = random.Random(3)\na = rng.random()")[
        "passed"] == "1"
    h = cell(system, sid, "b = rng.random()\na != b")
    assert h["value"] == "True" and h["replayed"] == "0", h
    b = cell(system, sid, "b")["value"]
    w1.stop()
    system.worker()
    # Replayed from the record: seeded, so the same numbers again.
    h = cell(system, sid, "b")
    assert h["value"] == b and h["replayed"] == "3", h
    h = cell(system, sid, "rng.random() != b")
    assert h["value"] == "True" and h["replayed"] == "0", h


def test_cells_go_to_the_worker_holding_the_session(system):
    """Cells of one session go to the worker that holds it (the claim routes
    them there while it is alive and idle): every cell after the first is
    warm, whichever worker read it from the work stream."""
    system.dispatcher()
    registered(system, system.worker(), system.worker())
    sid = open_session(system)
    replayed, workers, routed = 0, set(), 0
    for i in range(10):
        jid = system.submit({"kind": "exec", "session": sid,
                             "code": f"v{i} = {i}\nsum(v for k, v in globals().items() "
                                     f"if k[:1] == 'v' and k[1:].isdigit())"})
        h = system.wait(jid)
        assert h["value"] == str(sum(range(i + 1))), h
        replayed += int(h["replayed"])
        workers.add(h["worker"])
        routed += any(e["type"] == "routed" for e in system.events(jid))
    assert len(workers) == 1 and replayed == 0, (workers, replayed)
    assert routed > 0  # the other worker read some of them from the stream, and passed them on
    assert system.r.hget(system.key("session", sid), "worker") in workers
    # Its close goes there too, and ends the interpreter it held.
    h = system.wait(system.submit({"kind": "session_close", "session": sid}))
    assert h["worker"] in workers, h


def test_a_busy_holder_is_passed_over(system):
    """A cell whose holder is busy is answered by another worker (by replay),
    which holds the session from then on."""
    system.dispatcher()
    w1 = system.worker()
    a, b = open_session(system), open_session(system)
    assert cell(system, a, "x = 1")["worker"] == w1.name
    assert cell(system, b, "y = 2")["worker"] == w1.name
    w2 = system.worker()
    slow = system.submit({"kind": "exec", "session": a, "code": "import time\ntime.sleep(4)"})
    system.wait_for(lambda: system.job(slow).get("state") == "running", what="slow cell")
    assert system.job(slow)["worker"] == w1.name
    h = cell(system, b, "y + 1")
    assert h["value"] == "3" and h["worker"] == w2.name and h["replayed"] == "1", h
    assert system.wait(slow)["worker"] == w1.name
    h = cell(system, b, "y + 2")
    assert h["value"] == "4" and h["worker"] == w2.name and h["replayed"] == "0", h


def test_infinite_loop_in_one_session_while_another_goes_on(system):
    system.dispatcher()
    system.worker()
    system.worker()
    a = open_session(system, limits={"timeout_s": 10})
    b = open_session(system)
    assert cell(system, b, "n = 0")["passed"] == "1"
    loop = system.submit({"kind": "exec", "session": a, "code": "while True: pass"})
    system.wait_for(lambda: system.job(loop).get("state") == "running", what="loop running")
    for i in range(5):
        h = cell(system, b, "n += 1\nn")
        assert h["value"] == str(i + 1), h
    # Answered while a's cell still runs (it ends only at its time limit),
    # not after it: whatever the machine's load, b did not wait for a.
    assert system.job(loop)["state"] == "running", "session b waited for session a"
    h = system.wait(loop)
    assert h["passed"] == "0" and "time limit of 10 s" in h["error"], h


def children(pid):
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def rss_kb(pid):
    return int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0])


def test_many_sessions_on_two_workers_memory_bounded(system):
    """100 sessions on two workers that hold 50 each: every session is held
    (warm) on one of them, each worker's interpreters are bounded by its
    limit and its own memory stays small; a 101st session is refused with a
    clear error until one is closed."""
    system.dispatcher()
    w = [system.worker(sessions_held=50), system.worker(sessions_held=50)]
    registered(system, *w)  # a worker at its limit passes cells to the other: once it is there
    ids = [system.submit({"kind": "session_open"}) for _ in range(101)]
    sids = [system.wait(j)["session"] for j in ids]
    jobs = [system.submit({"kind": "exec", "session": s, "code": f"v = {i}"})
            for i, s in enumerate(sids[:100])]
    done = [system.wait(j, timeout=300) for j in jobs]
    assert all(h["passed"] == "1" for h in done), [h for h in done if h["passed"] != "1"][:3]

    def held():  # the worker's record says it after recording the job's end
        return {p.name: int(system.r.hget(system.key("worker", p.name), "sessions")) for p in w}

    system.wait_for(lambda: held() == {w[0].name: 50, w[1].name: 50}, what="50 each")
    for p in w:
        assert len(children(p.pid)) <= 50 + 2, len(children(p.pid))  # + the pool's server
        assert rss_kb(p.pid) < 64 * 1024, rss_kb(p.pid)
    h = cell(system, sids[57], "v")
    assert h["value"] == "57" and h["replayed"] == "0", h
    h = cell(system, sids[100], "v = 100")
    assert h["passed"] == "0" and "holds its limit of 50 sessions" in h["error"], h
    assert "no other worker has room" in h["error"]
    h = system.wait(system.submit({"kind": "session_close", "session": sids[3]}))
    assert h["passed"] == "1", h
    h = cell(system, sids[100], "v = 100\nv")
    assert h["passed"] == "1" and h["value"] == "100", h


def test_a_slow_beat_does_not_put_an_older_session_count_back(system, tmp_path):
    """The worker's record holds `sessions`, which routes cells: the main
    thread writes the count as it changes, the heartbeat thread with every
    beat. A beat that read the count before a cell added a session and wrote
    after that cell's note must not put the older count back: the worker
    would look as if it had room it has not, and claim a cell it must
    refuse (so it was in test_many_sessions_on_two_workers_memory_bounded)."""
    hold = tmp_path / "beat-hold"
    held = tmp_path / "beat-hold.held"
    system.dispatcher()
    w = system.worker(sessions_held=2, lease_ms=15000, fault_beat_hold=str(hold))
    rec = system.key("worker", w.name)
    system.wait_for(lambda: system.r.hget(rec, "sessions") == "0", what="registered")
    sid = open_session(system)
    hold.touch()
    system.wait_for(held.exists, timeout=30, what="a beat waiting with the count it read")
    assert cell(system, sid, "x = 1")["passed"] == "1"
    assert system.r.hget(rec, "sessions") == "1"  # the cell's note
    hold.unlink()
    system.wait_for(lambda: not held.exists(), what="the waiting beat written")
    assert system.r.hget(rec, "sessions") == "1", system.r.hgetall(rec)


def cell_from_a_full_worker(system):
    """Start a worker that may hold one session and fill it; then submit a
    cell of another session. Returns the cell's job and its session."""
    full = system.worker(sessions_held=1)
    a, s = open_session(system), open_session(system)
    assert cell(system, a, "x = 1")["worker"] == full.name
    system.wait_for(lambda: system.r.hget(system.key("worker", full.name), "sessions") == "1",
                    what="at its limit")
    return system.submit({"kind": "exec", "session": s, "code": "y = 2\ny"}), s


def test_a_cell_back_in_line_is_routed_again(system, tmp_path):
    """A worker at its limit passes a cell of a new session to a worker with
    room; while that one is busy the entry waits in its pending list, and
    after a lease the orphan sweep puts the job back in line. The worker at
    its limit reads it again: it must route it again, not run it and refuse
    it for want of room while the other worker has some (so it was in
    test_many_sessions_on_two_workers_memory_bounded)."""
    hold = tmp_path / "job-hold"
    held = tmp_path / "job-hold.held"
    system.dispatcher()
    busy = system.worker(sessions_held=2, fault_job_hold=str(hold))
    registered(system, busy)
    hold.touch()
    first = system.submit({"kind": "session_open"})
    system.wait_for(held.exists, what="the busy worker holding its job")
    z, b = cell_from_a_full_worker(system)

    def routed_after_redelivery():
        kinds = [(e["type"], e.get("worker")) for e in system.events(z)]
        if "redelivered" not in [k for k, _ in kinds]:
            return system.job(z).get("state") == "done"
        return ("routed", busy.name) in kinds[[k for k, _ in kinds].index("redelivered"):] or \
            system.job(z).get("state") == "done"

    system.wait_for(routed_after_redelivery, what="redelivered and routed again")
    assert system.job(z)["state"] == "queued", (system.job(z), system.events(z))
    hold.unlink()
    assert system.wait(first)["passed"] == "1"
    h = system.wait(z)
    assert h["passed"] == "1" and h["worker"] == busy.name and h["value"] == "2", h
    assert system.r.hget(system.key("session", b), "worker") == busy.name


def held_on_a_job(system, sessions_held, hold):
    """A worker that claims the next job (a session_open) and holds it, not
    run, while the file `hold` exists: busy, with its room untouched."""
    w = system.worker(sessions_held=sessions_held, fault_job_hold=str(hold))
    registered(system, w)
    hold.touch()
    job = system.submit({"kind": "session_open"})
    system.wait_for(Path(str(hold) + ".held").exists, what=f"{w.name} holding its job")
    return w, job


def places(system, w):
    return system.r.zrange(system.key("places", w.name), 0, -1)


def test_two_cells_never_go_to_one_free_place(system, tmp_path):
    """A worker at its limit passes cells of new sessions to workers with
    room, each to a place reserved for it by the same script that routes
    it: b has two free places, c one; three cells go to them, two to b and
    one to c, and each runs where it was sent. (Routed by the count in the
    workers' records alone, all three went to b, which had room for two:
    the third was passed on, and in heavy churn a cell passed on four times
    was refused although another worker had room.)"""
    system.dispatcher(lease_ms=60000)  # no redelivery meanwhile: the cells stay routed
    hb, hc = tmp_path / "hold-b", tmp_path / "hold-c"
    b, first_b = held_on_a_job(system, 2, hb)
    c, first_c = held_on_a_job(system, 1, hc)
    full = system.worker(sessions_held=1)
    registered(system, full)
    a = open_session(system)
    assert cell(system, a, "x = 1")["worker"] == full.name
    system.wait_for(lambda: system.r.hget(system.key("worker", full.name), "sessions") == "1",
                    what="at its limit")
    sids = [open_session(system) for _ in range(3)]
    zs = [system.submit({"kind": "exec", "session": s, "code": f"y = {i}\ny"})
          for i, s in enumerate(sids)]

    def routes(z):
        return [e["worker"] for e in system.events(z) if e["type"] == "routed"]

    system.wait_for(lambda: all(routes(z) for z in zs), what="the three cells routed")
    to = [routes(z) for z in zs]
    assert sorted(t[0] for t in to) == sorted([b.name, b.name, c.name]), to
    assert sorted(places(system, b) + places(system, c)) == sorted(zs)
    hb.unlink()
    hc.unlink()
    assert system.wait(first_b)["passed"] == "1" and system.wait(first_c)["passed"] == "1"
    for z, t in zip(zs, to):
        h = system.wait(z)
        assert h["passed"] == "1" and h["worker"] == t[0] and h["routes"] == "1", h
    # Each place went as its cell's session was counted.
    system.wait_for(lambda: {system.r.hget(system.key("worker", p.name), "sessions")
                             for p in (b, c)} == {"2", "1"}, what="the sessions counted")
    assert places(system, b) == [] and places(system, c) == []


def test_a_dead_workers_places_go_with_it(system, tmp_path):
    """A cell routed to a worker that dies before it runs it: the place
    reserved there expires with the worker's record, and after the lease
    the cell goes to a worker with room."""
    system.dispatcher()
    doomed, _ = held_on_a_job(system, 2, tmp_path / "hold-doomed")
    hold = tmp_path / "hold-other"
    other, first = held_on_a_job(system, 1, hold)  # less room: the cell goes to doomed
    z, _ = cell_from_a_full_worker(system)
    system.wait_for(lambda: places(system, doomed) == [z], what="a place on the doomed worker")
    doomed.signal(signal.SIGKILL)
    doomed.p.wait()
    system.wait_for(lambda: not system.r.exists(system.key("worker", doomed.name)),
                    what="its record expired")
    assert not system.r.exists(system.key("places", doomed.name))
    system.wait_for(lambda: places(system, other) == [z], what="redelivered to the other")
    hold.unlink()
    assert system.wait(first)["passed"] == "1"
    h = system.wait(z)
    assert h["passed"] == "1" and h["worker"] == other.name and h["value"] == "2", h


def test_a_routed_cell_a_full_worker_cannot_hold_is_passed_on(system, tmp_path):
    """The worker a cell was routed to (it had room) filled up before it
    read the cell: a cell of a session it was the last to run, whose
    interpreter a stopped cell had ended, needed one again (no place is
    reserved for a session's own worker). It passes the cell on to a worker
    with room rather than refusing it."""
    hold = tmp_path / "job-hold"
    held = tmp_path / "job-hold.held"
    system.dispatcher(lease_ms=60000)  # no redelivery meanwhile: the cell stays routed
    b = system.worker(sessions_held=1, fault_job_hold=str(hold))
    registered(system, b)
    sb = open_session(system, limits={"timeout_s": 1})
    assert cell(system, sb, "x = 1")["worker"] == b.name
    h = cell(system, sb, "while True:\n    pass")
    assert h["passed"] == "0" and "time limit" in h["error"], h
    rec = system.key("worker", b.name)
    system.wait_for(lambda: system.r.hget(rec, "sessions") == "0", what="its interpreter ended")
    hold.touch()
    first = system.submit({"kind": "exec", "session": sb, "code": "x"})
    system.wait_for(held.exists, what="b holding the cell it claimed, not yet run")
    z, _ = cell_from_a_full_worker(system)
    routes = lambda: [e["worker"] for e in system.events(z) if e["type"] == "routed"]  # noqa: E731
    system.wait_for(lambda: routes() == [b.name], what="routed to b, which has room")
    c = system.worker(sessions_held=1)
    registered(system, c)
    hold.unlink()  # b runs its own cell first: now it is at its limit
    assert system.wait(first)["passed"] == "1"
    h = system.wait(z)
    assert h["passed"] == "1" and h["worker"] == c.name and h["value"] == "2", h
    assert routes() == [b.name, c.name], system.events(z)
    assert h["routes"] == "2", h


def test_sessions_per_worker_limit(system):
    system.dispatcher()
    system.worker(sessions_held=2)
    a, b, c = open_session(system), open_session(system), open_session(system)
    assert cell(system, a, "x = 1")["passed"] == "1"
    assert cell(system, b, "x = 2")["passed"] == "1"
    h = cell(system, c, "x = 3")
    assert h["passed"] == "0" and h["error"].startswith(
        "worker worker2 holds its limit of 2 sessions (--sessions-held)"), h
    assert system.r.hget(system.key("session", c), "cells") == "0"
    assert cell(system, a, "x")["value"] == "1"  # the held ones go on
    system.wait(system.submit({"kind": "session_close", "session": a}))
    assert cell(system, c, "x = 3\nx")["value"] == "3"


def test_client_session_commands(system):
    system.dispatcher()
    system.worker()

    def run(*args):
        return subprocess.run([binary("llmrepl"), *args], capture_output=True, text=True,
                              env=system.env(), timeout=60)

    p = run("session", "open")
    assert p.returncode == 0, p.stderr
    sid = p.stdout.strip()
    p = run("session", "exec", sid, "--code", "x = 20\nprint('hello')")
    assert p.returncode == 0 and p.stdout == "hello\n", (p.stdout, p.stderr)
    p = run("session", "exec", sid, "--code", "x * 2 + 2")
    assert p.returncode == 0 and p.stdout == "42\n", (p.stdout, p.stderr)
    p = run("session", "exec", sid, "--code", "1/0")
    assert p.returncode == 1 and "ZeroDivisionError" in p.stderr, (p.stdout, p.stderr)
    p = run("session", "close", sid)
    assert p.returncode == 0, p.stderr
