"""llmrepl_warm - one warm judge for the consecutive items of a group whose
tests are pure (llmrepl_pure).

A grouped run (llmrepl_group) otherwise forks a fresh judge per item from the
pool's spare; most of that item's judge cost is the fork's (its copy-on-write
faults, Python's after-fork work, the exit). An item whose tests can leave
nothing behind in the judge's process (a whitelist of the tests' AST:
llmrepl_pure.impure) is instead evaluated by a judge forked once and kept
for the next such items:

  group (parent) ── fork once ──> warm judge (this module's serve()):
     per item: "ITEM k fd" (fd: the candidate factory of its turn,
     llmrepl_judge.take_turn) + the item's answer, stdout and stderr pipes (and the
     trace's) over a socketpair (SCM_RIGHTS) -> dup2'd onto 3, 1, 2; the
     judge's state made fresh (_fresh); llmrepl_harness.evaluate; the answer
     on fd 3; 3, 1, 2 back to /dev/null; "DONE k status cpu_us faults rss_kb
     retire" back. The parent enforces the item's deadline and caps as for a
     forked judge (it kills the warm judge: that item is evaluated alone by
     the host, the next ones by a fresh warm judge), then CLEANs the factory
     and reads the pipes to their ends, as for a forked judge.

What stays as it is: the candidate's side (a fresh worker per item, NEW, END
and CLEAN), and the verdict channel: the warm judge never holds the run's
answer descriptor (closed at its start), each item's answer is read from
its own pipe by the parent, which alone frames it; the candidate holds none
of these. The code never runs in the judge.

What is fresh per item (_fresh): the runner's namespaces, proxies, handles
and callables (new each evaluation anyway), the exception-class stand-ins
(llmrepl_judge.fresh), the streams, argv, the alarm's handler and timer, the
recursion limit, random's module generator (reseeded, as a fresh import
would be), linecache, warnings' once-registries; garbage is collected after
each item. A module the code names is imported here only when
llmrepl_pure allows it (else the item is handed back, status AGAIN, and gets
a judge of its own). The judge is retired (the next item gets a fresh one)
after ITEMS_MAX items, when its resident memory grew by RSS_GROWTH_KB, and
when its descriptors or threads are not as they were (not expected: a
check, not a protection the rest relies on).
"""
import ast
import gc
import os
import select
import signal
import socket
import sys
import time

import llmrepl_gitem as gi
import llmrepl_judge
import llmrepl_pure

ITEMS_MAX = 32  # items per warm judge
RSS_GROWTH_KB = 64 << 10  # resident memory past its start before it is retired
ANSWERED, NO_ANSWER, AGAIN = 0, 1, 2


def shareable(item):
    """The item's tests parsed, when the item can share a warm judge: split,
    no static tools in the judge, function tests that are not a doctest
    transcript, no doctests of the code's, no session cells, and pure
    tests; else None."""
    if not isinstance(item, dict) or item.get("split") is not True or item.get("static") \
            or item.get("session_cells") or item.get("doctests") == "always":
        return None
    tests = item.get("tests")
    if not isinstance(tests, str) or not tests.strip() or not isinstance(item.get("code"), str):
        return None
    import llmrepl_plan
    if llmrepl_plan.is_transcript(tests):
        return None
    try:
        tree = ast.parse(tests, "<tests>")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    try:
        why = llmrepl_pure.impure(tree)
    except (RecursionError, MemoryError):
        return None
    return tree if why is None else None


# ---- the parent's side ---------------------------------------------------------

class Judge:
    """The parent's handle on one warm judge."""

    def __init__(self, items):
        self.items = items
        self.pid = -1
        self.count = 0
        self.rss0 = None
        self.retire = False
        self.factory_ok = True
        self.ctl = None

    def start(self):
        """Forks the judge (a method, not the constructor: a plain Python
        call, so that the item's evaluation has the stack depth
        gi.alone_limit counts)."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            pid = os.fork()
        except OSError:
            mine.close()
            theirs.close()
            raise
        if pid == 0:
            try:
                mine.close()
                serve(self.items, theirs)  # never returns
            finally:
                os._exit(1)
        theirs.close()
        self.pid = pid
        self.ctl = mine

    def stop(self, kill=False):
        """Ends the judge (closing its socket ends it; or SIGKILL) and reaps it."""
        if self.pid < 0:
            return
        if kill:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        self.ctl.close()
        try:
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        self.pid = -1

    def item(self, k, deadline, caps, marks):
        """Item k in this judge: (answer, stdout, stderr as bytes lists, or
        None when it must go elsewhere; its status; its CPU us; its wall s).
        On anything but a clean DONE the judge is killed (self.pid < 0)."""
        pipes = []
        t0 = time.monotonic()
        try:
            for _ in range(4 if marks is not None else 3):
                pipes.append(os.pipe())
            gi.mark(marks, "send")  # before the judge can mark its start
            socket.send_fds(self.ctl, [b"ITEM %d %d" % (k, llmrepl_judge.FACTORY_FD)],
                            [w for _, w in pipes])
        except OSError:
            for r, w in pipes:
                os.close(r)
                os.close(w)
            self.stop(kill=True)
            return None, NO_ANSWER, 0, 0.0
        for _, w in pipes:
            os.close(w)
        tr = pipes.pop()[0] if marks is not None else -1
        fds = [r for r, _ in pipes]
        bufs, sizes = [[], [], []], [0, 0, 0]
        done = self._collect(fds, bufs, sizes, caps, deadline)
        wall = time.monotonic() - t0
        gi.mark(marks, "g.done")
        if done is None:
            self.stop(kill=True)
        factory_ok = gi.clean()
        gi.mark(marks, "g.clean")
        if self.pid < 0:
            factory_ok = gi.sweep() and factory_ok
        ok = done is not None and gi.drain(fds, bufs, sizes, caps,
                                             min(deadline, time.monotonic() + gi.DRAIN_S))
        for fd in fds:
            os.close(fd)
        if marks is not None:
            gi.mark(marks, "g.drain")
            gi.trace_take(tr, marks, None)
            if done is not None:
                marks.append(("=cpu.judge", done[1]))
                marks.append(("=flt.judge", done[2]))
        self.factory_ok = factory_ok
        if not ok or done[0] != ANSWERED:
            return None, done[0] if done is not None else NO_ANSWER, 0, wall
        return bufs, ANSWERED, done[1], wall

    def _collect(self, fds, bufs, sizes, caps, deadline):
        """The item's streams until the judge's DONE: (status, cpu_us,
        faults), or None (it died, overran the deadline or a cap)."""
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        cfd = self.ctl.fileno()
        poller.register(cfd, select.POLLIN | select.POLLHUP | select.POLLERR)
        live = set(fds)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            for fd, _ in poller.poll(max(1, int(min(left, 1.0) * 1000))):
                if fd == cfd:
                    return self._done()
                if fd in live and not gi.read(fd, fds, bufs, sizes, caps):
                    live.discard(fd)
                    poller.unregister(fd)
            if any(s > c for s, c in zip(sizes, caps)):
                return None

    def _done(self):
        try:
            msg = self.ctl.recv(256)
        except OSError:
            return None
        words = msg.split()
        if len(words) != 7 or words[0] != b"DONE" or not all(w.isdigit() for w in words[1:]):
            return None
        status, cpu, flt, rss, retire = (int(w) for w in words[2:])
        self.count += 1
        if self.rss0 is None:
            self.rss0 = rss
        self.retire = retire != 0 or status == NO_ANSWER or self.count >= ITEMS_MAX or \
            rss > self.rss0 + RSS_GROWTH_KB
        return status, cpu, flt


# ---- the warm judge ------------------------------------------------------------

class _Base:
    """What the judge was at its start: what each item must find again."""

    def __init__(self):
        self.reclimit = sys.getrecursionlimit()
        self.streams = (sys.stdout, sys.stderr, sys.stdin)
        self.argv = list(sys.argv)
        self.alarm = signal.getsignal(signal.SIGALRM)
        self.fds = _fds()
        self.threads = _threads()


def _fds():
    try:
        return sorted(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _threads():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def _rss_kb():
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return 0


def serve(items, sock):
    """The warm judge's loop (a fork of the group's process). Never returns."""
    status = 0
    try:
        devnull = os.open("/dev/null", os.O_RDWR)
        for fd in (3, 1, 2):
            os.dup2(devnull, fd)  # the run's answer descriptor is not the judge's
        gc.freeze()
        llmrepl_judge.MODULE_OK = llmrepl_pure.module_ok
        base = _Base()
        while True:
            msg, fds, _, _ = socket.recv_fds(sock, 64, 4)
            words = msg.split()
            if len(words) != 3 or words[0] != b"ITEM" or len(fds) < 3 or \
                    int(words[2]) not in llmrepl_judge.FACTORY_FDS:
                break
            k = int(words[1])
            # The factory this item's worker comes from (the group's turn).
            llmrepl_judge.FACTORY_FD = int(words[2])
            for fd, to in zip(fds, (3, 1, 2)):
                os.dup2(fd, to)
                os.close(fd)
            sock.send(_one(items[k], base, fds[3] if len(fds) > 3 else -1, devnull, k))
    except BaseException:  # noqa: BLE001 - the parent sees the socket close
        status = 1
    os._exit(status)


def _one(item, base, tw, devnull, k):
    ru0 = _ru()
    _fresh(base)
    sbx = sys.modules.get("llmrepl_sbx")
    if tw >= 0:
        del sbx._MARKS[:]
        sbx._mark("c.start")
    try:
        status = _evaluate(item)
    except BaseException:  # noqa: BLE001 - no answer: the host evaluates it alone
        status = NO_ANSWER
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    for fd in (3, 1, 2):
        os.dup2(devnull, fd)
    if tw >= 0:
        gi.trace_send(sbx, tw)
    gc.collect()
    ru1 = _ru()
    retire = _fds() != base.fds or _threads() != base.threads
    cpu = int((ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) * 1e6)
    return b"DONE %d %d %d %d %d %d" % (k, status, max(0, cpu),
                                        max(0, ru1.ru_minflt - ru0.ru_minflt), _rss_kb(),
                                        1 if retire else 0)


def _ru():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF)


def _evaluate(item):
    import json
    import llmrepl_harness
    item["group"] = True
    gc.enable()
    sys.setrecursionlimit(gi.alone_limit(sys.getrecursionlimit()))
    answer = llmrepl_harness.evaluate(item)
    if llmrepl_judge.REFUSED:
        return AGAIN
    if isinstance(answer, dict) and answer.get("status") == "ungroupable":
        return NO_ANSWER
    data = (answer if isinstance(answer, str) else json.dumps(answer, default=str)).encode(
        "utf-8", "surrogatepass")
    while data:
        data = data[os.write(3, data):]
    return ANSWERED


def _fresh(base):
    """The judge as the item would find a fresh fork of the spare."""
    llmrepl_judge.fresh()
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, base.alarm)
    sys.setrecursionlimit(base.reclimit)
    sys.stdout, sys.stderr, sys.stdin = base.streams
    sys.argv[:] = base.argv
    mods = sys.modules
    if "random" in mods:
        mods["random"].seed()  # as a fresh import seeds it (os.urandom)
    if "linecache" in mods:
        mods["linecache"].clearcache()
    if "warnings" in mods:
        try:
            mods["warnings"]._filters_mutated()  # every once-registry starts again
        except AttributeError:
            pass
