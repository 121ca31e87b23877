"""llmrepl_group - several evaluations in one sandbox run (worker/eval_group.c).

Request: {"mode": "evaluate_group", "items": [request, ...], "answer_max": n}
where each item is the request of one evaluation (llmrepl_harness) plus
"deadline_s" (the wall-clock limit an ungrouped run of it would have),
"output_max" (bytes of its own stdout and stderr) and "answer_max" (bytes of
its answer).

This process (the pool's spare: the harness imported, no item seen) forks a
child per item, one after another; the items whose tests are pure
(llmrepl_pure) come first and share one warm judge instead (llmrepl_warm,
which describes the difference), and their frames' judge field says so.
The child is what a single run is: it evaluates its item with the harness
and writes the answer on its fd 3 (a pipe to this process), its fds 1 and 2
are pipes too (what the candidate's worker writes straight to them lands
there). This process enforces the item's
deadline (it kills the child), caps the three streams, and after the child
has ended asks the candidate factory to CLEAN: every process of the
candidate's uid is killed and /work and /tmp are wiped before the next item,
and the factory's answer proves it is alive (a factory the code killed ends
the group). Then it does what the pool's server does after a run on its own
uid's side (the item's tests run in the child and may leave processes or
files): every other process of this uid is killed, /work and /tmp emptied.
Only then are the pipes read to their ends. Each item that ended properly is
framed on the run's answer fd:

  "ITEM <k> <exit status> <wall_us> <cpu_us> <judge> <answer bytes>
   <stdout bytes> <stderr bytes>\\n" + answer + stdout + stderr

(judge: 0 for a fork of its own, n for the n-th item of a warm judge), in
the order evaluated.

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

import llmrepl_gitem as gi
import llmrepl_judge
import llmrepl_warm

ANS_FD = 3
UNGROUPABLE = "ungroupable"


_ENTRY = {}  # the entry's write_answer and finish (llmrepl_sbx), given to run()


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
    _run_items(items, budget)
    try:
        os.close(ANS_FD)
    except OSError:
        pass
    _trace_write()
    return 0


def _order(items):
    """The items' indexes, those that can share a warm judge first
    (llmrepl_warm.shareable: their tests parsed, kept in the item), and
    the set of those."""
    shared = []
    for k, item in enumerate(items):
        tree = llmrepl_warm.shareable(item)
        if tree is not None:
            item["tests_tree"] = tree
            shared.append(k)
    own = set(shared)
    return shared + [k for k in range(len(items)) if k not in own], own


def _run_items(items, budget):
    """Every item, those with pure tests in a warm judge (llmrepl_warm, one
    for consecutive items), the others each in a fresh fork (_item); frames
    on the answer fd, in that order."""
    queue, shared = _order(items)
    judge = None
    i = 0
    while i < len(queue):
        k = queue[i]
        i += 1
        item = items[k]
        if not isinstance(item, dict):
            continue
        # The candidate factories in turn: this item's worker has another
        # uid than the last one's, and was forked and made ready while that
        # one's code ran (the last item's factory killed and wiped before
        # its CLEAN's answer, so before this item's NEW).
        other = llmrepl_judge.take_turn(i)
        if k in shared:
            frame, factory_ok, judge, again = _warm_item(k, item, items, judge)
            if again:
                shared.discard(k)
                queue.append(k)  # a judge of its own, after the shared ones
        else:
            if judge is not None:
                judge.stop()  # before any fork's sweep, which would reach it
                judge = None
            frame, factory_ok = _item(k, item, other)
        if frame is not None:
            if len(frame) > budget:
                break
            budget -= len(frame)
            if not _write(frame):
                break
        if not factory_ok:
            break  # the code killed or stopped the factory: the rest go alone
    if judge is not None:
        judge.stop()


def _limits(item):
    deadline_s = _num(item, "deadline_s", 10.0)
    caps = (int(_num(item, "answer_max", 8 << 20)), int(_num(item, "output_max", 1 << 20)),
            int(_num(item, "output_max", 1 << 20)))
    return deadline_s, caps


def _warm_item(k, item, items, judge):
    """Item k in the warm judge (started when there is none): (frame or
    None, whether the factory answered, the judge to go on with or None,
    whether the item must have a judge of its own instead)."""
    deadline_s, caps = _limits(item)
    marks = [("start", time.monotonic_ns())] if llmrepl_judge.tracing() else None
    if judge is None:
        judge = llmrepl_warm.Judge(items)
        try:
            judge.start()
        except OSError:
            return None, True, None, True
    t0 = time.monotonic()
    bufs, status, cpu, wall = judge.item(k, t0 + deadline_s, caps, marks)
    pos = judge.count
    factory_ok = judge.factory_ok
    if judge.pid < 0 or judge.retire or not factory_ok:
        judge.stop()
        judge = None
    if bufs is None:
        return None, factory_ok, judge, status == llmrepl_warm.AGAIN
    parts = [b"".join(b) for b in bufs]
    if not parts[0]:
        return None, factory_ok, judge, False
    head = "ITEM %d 0 %d %d %d %d %d %d\n" % (k, int(wall * 1e6), cpu, pos, len(parts[0]),
                                              len(parts[1]), len(parts[2]))
    return head.encode() + parts[0] + parts[1] + parts[2], factory_ok, judge, False


def _trace_write():
    """With the trace on, one "sbx-trace item" line per item on this
    process's stderr (the run's: only this process holds it), each phase the
    time from the mark before, the judge's child's and this process's marks
    in the order they happened (one clock)."""
    lines = []
    for marks in gi.TRACES:
        times = [m for m in marks if m[0][0] != "="]
        words = ["total=%d" % ((times[-1][1] - times[0][1]) // 1000)]
        words += ["%s=%d" % (m[0], (m[1] - p[1]) // 1000) for p, m in zip(times, times[1:])]
        words += ["%s=%d" % (m[0][1:], m[1]) for m in marks if m[0][0] == "="]
        lines.append("sbx-trace item " + " ".join(words) + "\n")
    del gi.TRACES[:]
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


def _item(k, item, other=-1):
    """One item: (frame or None, whether the factory answered its CLEAN).
    other: the factory this item does not ask (closed in its child)."""
    deadline_s, caps = _limits(item)
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
        if other >= 0:
            # The item's tests run in the child: they reach only this item's
            # factory (its CLEAN after the item kills whatever they made it
            # start), never the next item's.
            os.close(other)
        _child(item, pipes)  # never returns
    for _, w in pipes:
        os.close(w)
    tr = pipes.pop()[0] if marks is not None else -1
    gi.mark(marks, "fork")
    bufs = [[], [], []]
    sizes = [0, 0, 0]
    fds = [r for r, _ in pipes]
    ok = _collect(pid, fds, bufs, sizes, caps, t0 + deadline_s)
    wall = time.monotonic() - t0
    gi.mark(marks, "g.reaped")
    factory_ok = gi.clean()
    gi.mark(marks, "g.clean")
    factory_ok = factory_ok and gi.sweep()
    gi.mark(marks, "g.sweep")
    if ok and not gi.drain(fds, bufs, sizes, caps,
                           min(t0 + deadline_s, time.monotonic() + gi.DRAIN_S)):
        ok = None
    for fd in fds:
        os.close(fd)
    if marks is not None:
        gi.mark(marks, "g.drain")
        gi.trace_take(tr, marks, ok[0] if ok else None)
    if not ok or not factory_ok:
        return None, factory_ok
    ru, status = ok
    if not os.WIFEXITED(status):
        return None, factory_ok
    parts = [b"".join(b) for b in bufs]
    if not parts[0]:
        return None, factory_ok  # ungroupable, or the child ended before answering
    head = "ITEM %d %d %d %d 0 %d %d %d\n" % (
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
        gi.trace_send(sbx, tw)
    _ENTRY["finish"](status)








def _evaluate(item):
    import json
    import llmrepl_harness
    item["group"] = True
    sys.setrecursionlimit(gi.alone_limit(sys.getrecursionlimit()))
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
                if fd in live and not gi.read(fd, fds, bufs, sizes, caps):
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







