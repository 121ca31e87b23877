"""llmrepl_gitem - what a grouped run (llmrepl_group) does around each item,
whoever evaluates it (a fresh fork of the spare, or a warm judge,
llmrepl_warm): the item's streams read under their caps and to their ends,
the candidate factory's CLEAN, the sweep of what the judge's uid left, the
trace's marks, and the recursion limit that gives the evaluation the stack
a run of its own has."""
import os
import select
import signal
import sys
import time

import llmrepl_judge

CLEAN_S = 5.0
DRAIN_S = 2.0  # after the clean-up, for the streams' last bytes
TRACES = []  # LLMREPL_SBX_TRACE: per item, its marks (name, ns) from both sides


def mark(marks, name):
    if marks is not None:
        marks.append((name, time.monotonic_ns()))


def trace_send(sbx, fd):
    """The judge's marks for its item, on the item's trace pipe (closed)."""
    sbx._mark("c.answer")
    try:
        os.write(fd, sbx._trace_words().encode())
    except OSError:
        pass
    os.close(fd)


def trace_take(fd, marks, ru):
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
    TRACES.append(marks)


def read(fd, fds, bufs, sizes, caps):
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


def drain(fds, bufs, sizes, caps, deadline):
    """The streams to their ends (the factory's clean-up killed every holder).
    False when one stays open past the deadline or went over its cap."""
    live = list(fds)
    while live:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select(live, [], [], left)
        for fd in ready:
            if not read(fd, fds, bufs, sizes, caps):
                live.remove(fd)
    return all(s <= c for s, c in zip(sizes, caps))


def sweep():
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


def clean():
    """The factory kills every process of the candidate's uid and wipes /work
    and /tmp (at once when the judge's END did it already). True when it
    answered: it is alive and the next item starts clean."""
    return llmrepl_judge.factory_clean(CLEAN_S)


def alone_limit(limit):
    """The recursion limit that gives an evaluation called by the caller
    the stack a run of its own gives it (there: run_once -> run_evaluate ->
    llmrepl_harness.evaluate, each a plain Python call; here more frames
    lie between run_once and the caller): a test that recurses as deep as
    it can gets as far as alone."""
    f = sys._getframe(1)
    n = 0
    while f is not None and f.f_code.co_name != "run_once":
        n += 1
        f = f.f_back
    return limit if f is None else max(limit, limit + n - 1)
