"""llmrepl_group - several evaluations in one sandbox run (worker/eval_group.c).

Request: {"mode": "evaluate_group", "items": [request, ...], "answer_max": n}
where each item is the request of one evaluation (llmrepl_harness) plus
"deadline_s" (the wall-clock limit an ungrouped run of it would have),
"output_max" (bytes of its own stdout and stderr) and "answer_max" (bytes of
its answer).

This process (the pool's spare: the harness imported, no item seen) forks a
child per item, one after another. The child is what a single run is: it
evaluates its item with the harness and writes the answer on its fd 3 (a pipe
to this process), its fds 1 and 2 are pipes too (what the candidate's worker
writes straight to them lands there). This process enforces the item's
deadline (it kills the child), caps the three streams, and after the child
has ended asks the candidate factory to CLEAN: every process of the
candidate's uid is killed and /work and /tmp are wiped before the next item,
and the factory's answer proves it is alive (a factory the code killed ends
the group). Then it does what the pool's server does after a run on its own
uid's side (the item's tests run in the child and may leave processes or
files): every other process of this uid is killed, /work and /tmp emptied.
Only then are the pipes read to their ends. Each item that ended properly is
framed on the run's answer fd:

  "ITEM <k> <exit status> <wall_us> <cpu_us> <answer bytes> <stdout bytes>
   <stderr bytes>\\n" + answer + stdout + stderr

An item that ends otherwise (killed at its deadline, a signal, a stream over
its cap, no clean-up) gets no frame: the host runs it again alone. Only this
process writes to the answer fd; the children's fd 3 is their own pipe, and
the candidate never holds either.

A child evaluates only a split item: one whose tests would run in the code's
own process (the harness's _unsplittable, or no factory) is not evaluated
here at all (the harness answers "ungroupable" before any code runs, and the
child writes nothing), so no code under test ever runs in a process that
shares this one's uid and memory layout.

With LLMREPL_SBX_TRACE=1 each item's child also gets a fourth pipe for its
trace marks (written once it has answered), and this process ends the run's
stderr with one "sbx-trace item ..." line per item (_trace_write).
"""
import gc
import os
import select
import signal
import sys
import time

import llmrepl_judge

ANS_FD = 3
CLEAN_S = 5.0
DRAIN_S = 2.0  # after the clean-up, for the streams' last bytes
UNGROUPABLE = "ungroupable"


_ENTRY = {}  # the entry's write_answer and finish (llmrepl_sbx), given to run()
_TRACES = []  # LLMREPL_SBX_TRACE: per item, its marks (name, ns) from both sides


def run(req, write_answer, finish):
    """Evaluate every item; frames on the answer fd. Returns the exit status."""
    _ENTRY.update(write_answer=write_answer, finish=finish)
    items = req.get("items")
    if not isinstance(items, list):
        write_answer("")
        return 2
    budget = req.get("answer_max")
    budget = budget if type(budget) is int and budget > 0 else 64 << 20
    if any(isinstance(item, dict) and item.get("static") for item in items):
        # The static service is not in use: the items' judges run the tools,
        # imported here once for all of them (the pool's server has not).
        import llmrepl_static
        llmrepl_static.load()
    gc.disable()
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            break
        frame, factory_ok = _item(k, item)
        if frame is not None:
            if len(frame) > budget:
                break
            budget -= len(frame)
            if not _write(frame):
                break
        if not factory_ok:
            break  # the code killed or stopped the factory: the rest go alone
    try:
        os.close(ANS_FD)
    except OSError:
        pass
    _trace_write()
    return 0


def _trace_write():
    """With the trace on, one "sbx-trace item" line per item on this
    process's stderr (the run's: only this process holds it), each phase the
    time from the mark before, the judge's child's and this process's marks
    in the order they happened (one clock)."""
    lines = []
    for marks in _TRACES:
        times = [m for m in marks if m[0][0] != "="]
        words = ["total=%d" % ((times[-1][1] - times[0][1]) // 1000)]
        words += ["%s=%d" % (m[0], (m[1] - p[1]) // 1000) for p, m in zip(times, times[1:])]
        words += ["%s=%d" % (m[0][1:], m[1]) for m in marks if m[0][0] == "="]
        lines.append("sbx-trace item " + " ".join(words) + "\n")
    del _TRACES[:]
    if lines:
        try:
            os.write(2, "".join(lines).encode())
        except OSError:
            pass


def _write(data):
    try:
        while data:
            data = data[os.write(ANS_FD, data):]
        return True
    except OSError:
        return False


def _num(item, key, default):
    v = item.get(key)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else default


def _item(k, item):
    """One item: (frame or None, whether the factory answered its CLEAN)."""
    deadline_s = _num(item, "deadline_s", 10.0)
    caps = (int(_num(item, "answer_max", 8 << 20)), int(_num(item, "output_max", 1 << 20)),
            int(_num(item, "output_max", 1 << 20)))
    marks = [("start", time.monotonic_ns())] if llmrepl_judge.tracing() else None
    pipes = []
    t0 = time.monotonic()
    try:
        for _ in range(4 if marks is not None else 3):
            pipes.append(os.pipe())
        pid = os.fork()
    except OSError:
        # No process or descriptor left for it: the rest go alone.
        for r, w in pipes:
            os.close(r)
            os.close(w)
        return None, False
    if pid == 0:
        _child(item, pipes)  # never returns
    for _, w in pipes:
        os.close(w)
    tr = pipes.pop()[0] if marks is not None else -1
    _mark(marks, "fork")
    bufs = [[], [], []]
    sizes = [0, 0, 0]
    fds = [r for r, _ in pipes]
    ok = _collect(pid, fds, bufs, sizes, caps, t0 + deadline_s)
    wall = time.monotonic() - t0
    _mark(marks, "g.reaped")
    factory_ok = _clean()
    _mark(marks, "g.clean")
    factory_ok = factory_ok and _sweep()
    _mark(marks, "g.sweep")
    if ok and not _drain(fds, bufs, sizes, caps, min(t0 + deadline_s, time.monotonic() + DRAIN_S)):
        ok = None
    for fd in fds:
        os.close(fd)
    if marks is not None:
        _mark(marks, "g.drain")
        _trace_take(tr, marks, ok[0] if ok else None)
    if not ok or not factory_ok:
        return None, factory_ok
    ru, status = ok
    if not os.WIFEXITED(status):
        return None, factory_ok
    parts = [b"".join(b) for b in bufs]
    if not parts[0]:
        return None, factory_ok  # ungroupable, or the child ended before answering
    head = "ITEM %d %d %d %d %d %d %d\n" % (
        k, os.WEXITSTATUS(status), int(wall * 1e6), int((ru.ru_utime + ru.ru_stime) * 1e6),
        len(parts[0]), len(parts[1]), len(parts[2]))
    return head.encode() + parts[0] + parts[1] + parts[2], factory_ok


def _child(item, pipes):
    """A single run of the item: the harness on a fresh fork of the warm judge."""
    tw = -1
    if len(pipes) == 4:
        # The trace's marks: written at the end, on a pipe of their own.
        sbx = sys.modules["llmrepl_sbx"]
        del sbx._MARKS[:]
        sbx._mark("c.start")
        r, tw = pipes.pop()
        os.close(r)
    try:
        for i, (r, w) in enumerate(pipes):
            os.close(r)
            os.dup2(w, (ANS_FD, 1, 2)[i])
            os.close(w)
        gc.enable()
        status = _evaluate(item)
    except BaseException:  # noqa: BLE001 - no answer: the host runs it alone
        status = 1
    if tw >= 0:
        sbx._mark("c.answer")
        try:
            os.write(tw, sbx._trace_words().encode())
        except OSError:
            pass
        os.close(tw)
    _ENTRY["finish"](status)


def _mark(marks, name):
    if marks is not None:
        marks.append((name, time.monotonic_ns()))


def _trace_take(fd, marks, ru):
    """The child's marks ("name=ns ..."), read once it has ended; its CPU
    (us) and page faults after them."""
    data = b""
    os.set_blocking(fd, False)  # written before the child's end; nobody else holds it
    try:
        while True:
            b = os.read(fd, 1 << 16)
            if not b:
                break
            data += b
    except OSError:
        pass
    os.close(fd)
    for w in data.decode("ascii", "replace").split():
        name, _, ns = w.partition("=")
        if ns.isdigit():
            marks.append((name, int(ns)))
    marks.sort(key=lambda m: m[1])
    if ru is not None:
        marks.append(("=cpu.judge", int((ru.ru_utime + ru.ru_stime) * 1e6)))
        marks.append(("=flt.judge", ru.ru_minflt))
    _TRACES.append(marks)


def _evaluate(item):
    import json
    import llmrepl_harness
    item["group"] = True
    answer = llmrepl_harness.evaluate(item)
    if isinstance(answer, dict) and answer.get("status") == UNGROUPABLE:
        os.close(ANS_FD)
        return 0
    _ENTRY["write_answer"](answer if isinstance(answer, str) else json.dumps(answer, default=str))
    return 0


def _collect(pid, fds, bufs, sizes, caps, deadline):
    """Read the child's streams until it has ended: (rusage, status), or
    None when it overran its deadline or a stream its cap (it is killed).
    What is still in the pipes then (a process it left may hold them) is
    read after the clean-up (_drain)."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    live = set(fds)
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        pidfd = -1
    else:
        poller.register(pidfd, select.POLLIN)
    over = False
    try:
        while not over:
            got = os.wait4(pid, os.WNOHANG)
            if got[0] == pid:
                return got[2], got[1]
            left = deadline - time.monotonic()
            if left <= 0:
                break
            # With the pidfd a child's end wakes the poll; without, poll often.
            wait = min(left, 1.0 if pidfd >= 0 or fds[0] in live else 0.002)
            for fd, _ in poller.poll(max(1, int(wait * 1000))):
                if fd in live and not _read(fd, fds, bufs, sizes, caps):
                    live.discard(fd)
                    poller.unregister(fd)
            over = any(s > c for s, c in zip(sizes, caps))
    finally:
        if pidfd >= 0:
            os.close(pidfd)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    os.waitpid(pid, 0)
    return None


def _read(fd, fds, bufs, sizes, caps):
    """False at the end of the stream."""
    i = fds.index(fd)
    try:
        data = os.read(fd, 1 << 16)
    except OSError:
        return False
    if not data:
        return False
    if sizes[i] <= caps[i]:
        bufs[i].append(data)
    sizes[i] += len(data)
    return True


def _drain(fds, bufs, sizes, caps, deadline):
    """The streams to their ends (the factory's clean-up killed every holder).
    False when one stays open past the deadline or went over its cap."""
    live = list(fds)
    while live:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select(live, [], [], left)
        for fd in ready:
            if not _read(fd, fds, bufs, sizes, caps):
                live.remove(fd)
    return all(s <= c for s, c in zip(sizes, caps))


def _sweep():
    """What the item's tests left on the judge's side (they run in the
    child, as this uid): every other process of this uid is killed, as the
    pool's server does after a run (kill(-1) spares pid 1, the server, and
    cannot reach the factory's uid), and /work and /tmp are emptied of this
    uid's files. Only inside a sandbox, as its unprivileged uid: outside,
    kill(-1) would reach every process of the user. True when clean."""
    if os.geteuid() == 0 or os.getppid() != 1:
        return False
    for _ in range(2):
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            break
    wipe = getattr(sys.modules.get("llmrepl_pool"), "_wipe", None)
    return wipe is None or (wipe("/work") and wipe("/tmp"))


def _clean():
    """The factory kills every process of the candidate's uid and wipes /work
    and /tmp (at once when the judge's END did it already). True when it
    answered: it is alive and the next item starts clean."""
    return llmrepl_judge.factory_clean(CLEAN_S)
