"""llmrepl_pool.py - the pool's server (sbx_pool): llmrepl_entry.py --server.

It is pid 1 of the sandbox's namespaces, imports what runs will need, then
has one child forked per request received on the control socket (fd 5),
with two lanes by its zygote, a process that does nothing else; see serve()
and _Zygote. Kept apart from llmrepl_sbx, whose code every cold run loads: a
cold run never reads this module. The candidate factory (--factory) takes
its _wipe and set_limits.
"""
import os as _os
import sys

import posix

import llmrepl_sbx as sbx
import llmrepl_wire as wire
from llmrepl_sbx import ANS_FD, CTL_FD, REQ_FD, _mark

_SPARE_TRACE = []  # the last run's trace marks, from its spare (LLMREPL_SBX_TRACE)


def _warm_imports():
    """Everything a run is likely to import, imported once here so that a
    forked run finds it in memory."""
    import json  # noqa: F401
    import traceback  # noqa: F401
    import os  # noqa: F401
    import resource  # noqa: F401  (a shared object: set_limits in every run's process)
    # Built in, but its first import runs importlib's machinery: ~0.4 ms of
    # CPU (pages of the server's copied) in every spare (_free_run_fds).
    import fcntl  # noqa: F401
    sbx.loads("{}")  # its _json scanner made here, not in every run (sbx.loads)
    notes = []
    # Not the static tools (pyflakes, bandit, radon): the static service runs
    # them beside the run, and a judge that runs them itself imports them
    # (llmrepl_static.load); here their heap would be every fork's to copy.
    for name in ("llmrepl_harness", "llmrepl_group", "llmrepl_io", "llmrepl_prefault"):
        try:
            __import__(name)
        except Exception as e:  # a missing optional tool only costs speed
            notes.append("%s: %s" % (name, type(e).__name__))
    return notes


def _logging_at_exit():
    """When the imports brought logging in, its atexit shutdown is left to
    llmrepl_sbx.finish, which runs it after the run's own atexit functions
    (as atexit would: it was registered first) when the run changed the
    handlers the server has now, and skips it otherwise."""
    import atexit
    logging = sys.modules.get("logging")
    if logging is None or not isinstance(getattr(logging, "_handlerList", None), list):
        return
    atexit.unregister(logging.shutdown)
    sbx.SERVER_LOGGING = tuple(logging._handlerList)


_AT_FORK = []  # (function, its code): at-fork hooks the server's own forks skip


def _skip_at_fork():
    """threading's and logging's os.fork() hooks reset, in the child, the
    locks and thread list another thread might have held or left at the
    fork. The server has no other thread (checked here; it starts none), so
    in its forks they change nothing, and they cost each spare ~140 pages of
    the server's copied (~0.4 ms of its CPU). They are no-ops in the server
    and given back to each spare first thing (_restore_at_fork), so that a
    run's own forks have them."""
    import threading
    try:
        # (Locks of threads that ended; the main thread's own is the one
        # left, which the child's hook drops too: _restore_at_fork.)
        threading._maintain_shutdown_locks()
        if (len(_os.listdir("/proc/self/task")) != 1 or threading.active_count() != 1 or
                threading._shutdown_locks - {threading.main_thread()._tstate_lock}):
            return
    except (OSError, AttributeError):
        return
    noop = (lambda *args, **kwargs: None).__code__
    logging = sys.modules.get("logging")
    hooks = [getattr(threading, "_after_fork", None)] + [
        getattr(logging, name, None) for name in (
            "_acquireLock", "_releaseLock", "_after_at_fork_child_reinit_locks")]
    for f in hooks:
        if getattr(f, "__code__", None) is not None and not f.__code__.co_freevars:
            _AT_FORK.append((f, f.__code__))
    for f, _ in _AT_FORK:
        f.__code__ = noop


def _restore_at_fork():
    """In a spare, first: the hooks back, and what threading's would have
    left that differs (the locks exit waits for: none of the server's)."""
    if _AT_FORK:
        for f, code in _AT_FORK:
            f.__code__ = code
        sys.modules["threading"]._shutdown_locks = set()


def _wipe(path):
    """Remove everything below path; True when it is empty afterwards.

    Every process of the run is dead, so nothing races this. Directories
    are walked through fds (no path-length limit, no link followed), and
    ones left without permissions are given them back (same uid). A tree
    too deep for our fds is not cleaned: the caller then gives up the whole
    server, whose tmpfs dies with it. An entry's kind comes from the
    directory listing itself (tmpfs fills it in): no stat per entry."""
    try:
        # /work is ours (open to the candidate factory's uid when there is
        # one, to the slot's group, both lanes' runs, with lanes: only the
        # first lane's uid may chmod it); /tmp (root's, 1777) is not.
        _os.chmod(path, 0o777 if _FACTORY or path != "/work" else 0o770 if _LANES else 0o700)
    except OSError:
        pass
    try:
        stack = [(_os.open(path, _DIR_FLAGS), None)]
    except OSError:
        return False
    try:
        while stack:
            fd = stack[-1][0]
            sub = None
            with _os.scandir(fd) as entries:
                for e in entries:
                    if e.is_dir(follow_symlinks=False):
                        _os.chmod(e.name, 0o700, dir_fd=fd)
                        sub = (_os.open(e.name, _DIR_FLAGS, dir_fd=fd), e.name)
                        break
                    _os.unlink(e.name, dir_fd=fd)
            if sub is not None:
                stack.append(sub)
                continue
            fd, name = stack.pop()
            if stack:
                _os.close(fd)
                _os.rmdir(name, dir_fd=stack[-1][0])
                continue
            # The top: one more listing, through the same fd, to be sure.
            try:
                with _os.scandir(fd) as entries:
                    return next(entries, None) is None
            finally:
                _os.close(fd)
    except OSError:
        for fd, _ in stack:
            _os.close(fd)
        return False
    return False


_DIR_FLAGS = _os.O_RDONLY | _os.O_DIRECTORY | _os.O_NOFOLLOW | _os.O_CLOEXEC
FACTORY_FD = 10
_STUCK = False  # _kill_all could not clear the namespace: the server must go
_CGROUP_HELD = []  # the run's cgroup fds a judge keeps for the candidate's workers
_FACTORY = set()  # pids of the candidate factory (another uid; see llmrepl_candidate)


def _lane_empty(lane):
    """Whether nothing of the last run in `lane` exists any more, not even
    unreaped: its pids cgroup counts no process (every process a run starts
    is in it and cannot leave it; the spare ahead is in the other lane's).
    False when that count is unknown (no cgroups, no lanes)."""
    if not _LANE_PIDS:
        return False
    try:
        return _os.pread(_LANE_PIDS[lane], 32, 0).strip() == b"0"
    except OSError:
        return False


def _children():
    try:
        with open("/proc/1/task/1/children", "rb") as f:
            return {int(w) for w in f.read().split()}
    except (OSError, ValueError):
        return None


def _kill_all(lane=None, keep=()):
    """Kill every process of the namespace but this one (pid 1), the
    candidate factory and `keep` (the spare forked ahead in the other lane),
    and reap them all, including orphans of orphans. With lanes, `lane` is
    the lane whose processes die: the server takes its uid as its real and
    effective one (_reach), and kill(-1) then reaches nothing of the other
    lane's. Returns the largest peak memory (kB) of those reaped: the
    candidate's workers are orphans (see llmrepl_candidate), so this is the
    kernel's figure for the code's processes."""
    import os
    if os.getpid() != 1:
        # kill(-1) is only ever meant for the sandbox's own namespace.
        raise SystemExit("llmrepl_sbx: refusing kill(-1) outside the sandbox")
    if lane is not None and _LANES:
        _reach(lane)
    return _reap_all(frozenset(_FACTORY) | frozenset(keep) | _zygote_pids())


_REAPED = {}  # pid of a kept process that _reap_all reaped anyway: (status, rusage)


def _reap_all(keep):
    import os
    import signal
    import time
    peak = 0
    stuck = None
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            # Not one process (not even an unreaped one) it may signal:
            # nothing of the runs is left (the factory's uid it cannot
            # signal: that is what the children are looked at for).
            if not _FACTORY:
                return peak
        except OSError:
            pass
        try:
            pid, status, ru = os.wait4(-1, os.WNOHANG if keep else 0)
        except ChildProcessError:
            return peak
        except InterruptedError:
            continue
        if pid == 0:
            left = _children()
            if left is None or left <= keep:
                return peak
            if stuck is None:
                stuck = time.monotonic() + 2.0
            elif time.monotonic() > stuck:
                # Children this process cannot kill (the candidate's uid)
                # that the factory did not: give up this server.
                global _STUCK
                _STUCK = True
                return peak
            time.sleep(0.0005)
            continue
        if pid in keep and pid not in _FACTORY:
            _REAPED[pid] = (status, ru)  # the spare ahead died: its end is reported
            keep = keep - {pid}
            continue
        peak = max(peak, ru.ru_maxrss)
        if pid in _FACTORY:
            _FACTORY.discard(pid)  # it died (killed by a run): runs go on without it


def _factory_clean(one=False):
    """Between runs: each factory (two when grouped items take turns, see
    llmrepl_judge.take_turn; one: the run closed the second's socket before
    anything of it ran, llmrepl_sbx.run_once) kills what the code left
    under its uid and empties /work and /tmp of its files. False when one
    is gone."""
    if not _FACTORY:
        return True
    import llmrepl_judge
    fds = llmrepl_judge.factories()
    return llmrepl_judge.factory_clean(5, fds[:1] if one else fds)


_LIMITS = None  # resource.RLIMIT_* in the order of a run's limits (set_limits)


def limits_ahead():
    """What set_limits needs to know of this process (its address space now
    and its hard limits), read ahead of the run: a spare reads it while it
    waits, so that only the setrlimit calls are left for the run's path."""
    import resource
    global _LIMITS
    if _LIMITS is None:
        _LIMITS = (resource.RLIMIT_CPU, resource.RLIMIT_AS, resource.RLIMIT_NPROC,
                   resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE)
    try:
        # (os rather than open(): less of the server's code to run, and so
        # fewer of its pages copied, in a fork.)
        fd = _os.open("/proc/self/statm", _os.O_RDONLY | _os.O_CLOEXEC)
        try:
            vm = int(_os.read(fd, 128).split()[0]) * resource.getpagesize()
        finally:
            _os.close(fd)
    except (OSError, ValueError, IndexError):
        vm = 64 << 20
    return vm, tuple(resource.getrlimit(res)[1] for res in _LIMITS)


def set_limits(lim, ahead=None):
    """A run's rlimits (cpu_s, memory_mb, nproc, fsize_mb, nofile) on this
    forked process; the address space counts from what it already maps
    (ahead: limits_ahead(), read earlier)."""
    import resource
    cpu, mem_mb, nproc, fsize_mb, nofile = lim
    vm, hards = ahead or limits_ahead()
    for res, cur, soft, hard in zip(_LIMITS, hards,
                                    (cpu, vm + (mem_mb << 20), nproc, fsize_mb << 20, nofile),
                                    (cpu + 1, vm + (mem_mb << 20), nproc, fsize_mb << 20, nofile)):
        # Never above what this process may have (a cold run's candidate
        # factory already has the run's limits).
        if cur != resource.RLIM_INFINITY:
            soft, hard = min(soft, cur), min(hard, cur)
        resource.setrlimit(res, (soft, hard))


def _child(fds, lim, ahead, lane=0):
    import os
    if fds != _RUN_FDS:
        # (The spare left 1-4 free for them, so this is not expected.)
        import fcntl
        # Out of the way of 1-4 first: the received fds may have any numbers.
        out, err, ans, req = (fcntl.fcntl(fd, fcntl.F_DUPFD, 16) for fd in fds)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.dup2(ans, ANS_FD)
        os.dup2(req, REQ_FD)
    keep = [sbx._TRACE_FD] if sbx._TRACE_FD >= 0 else []
    if _FACTORY:
        # The candidate factories' sockets and the run's cgroups stay, for
        # llmrepl_judge; and its lane's count of processes (read-only), by
        # which the judge knows it is the run's last (llmrepl_judge.alone).
        import llmrepl_judge
        pids = [_LANE_PIDS[lane]] if _LANE_PIDS else []
        keep = sorted(keep + llmrepl_judge.factories() + _CGROUP_HELD + pids)
        llmrepl_judge.CGROUP_FDS = tuple(_CGROUP_HELD)
        llmrepl_judge.PIDS_FD = pids[0] if pids else -1
    lo = CTL_FD
    for fd in keep:
        os.closerange(lo, fd)
        lo = fd + 1
    os.closerange(lo, 1 << 16)
    set_limits(lim, ahead)
    _mark("py.limits")
    status = 1
    try:
        status = sbx.run_once()
    except BaseException:
        try:
            sys.__excepthook__(*sys.exc_info())
        except BaseException:
            pass
    sbx.finish(status)


# Where a run's stdout, stderr, answer and request go, in the order the host
# sends them: received as the lowest free fds, they land there in a spare
# that left these free (_free_run_fds).
_RUN_FDS = [1, 2, ANS_FD, REQ_FD]


def _free_run_fds(sock):
    """Close 1-4 (the server's log, as stdout and stderr) so that the run's
    fds land there as they arrive; the spare's socket moves above them.
    Last before the wait: any fd opened after this would take their place."""
    import os
    import fcntl
    import socket
    if sock.fileno() <= _RUN_FDS[-1]:
        sock = socket.socket(fileno=fcntl.fcntl(sock.detach(), fcntl.F_DUPFD_CLOEXEC, 16))
    os.closerange(_RUN_FDS[0], _RUN_FDS[-1] + 1)
    return sock


def _gave_up(sock, index, step, err):
    """The spare could not join the run's cgroup number `index`: "NOJOIN"
    to the server (which adds it to the run's DONE) and exit 125."""
    import errno
    try:
        sock.send(("NOJOIN %d %s %s" % (index, step, errno.errorcode.get(err, err))).encode())
    except OSError:
        pass
    posix._exit(125)


def _pending(sock):
    """Whether a message waits on the spare's socket."""
    try:
        return bool(sock.recv(1, 0x42))  # MSG_PEEK | MSG_DONTWAIT
    except BlockingIOError:
        return False
    except OSError:
        return True  # its end: the recv tells


def _rehearse():
    """What every run does first with the server's objects, done once by
    the spare before it waits: the first write to a page shared with the
    server copies it (a fault, ~3 us here), which the run's path would pay
    for otherwise. Nothing of it stays for the run to see."""
    sbx.loads('{"mode": "exec", "code": "pass"}')
    sbx.dumps({"ok": True, "exit": 0})
    compile("pass", "/work/main.py", "exec", dont_inherit=True)
    # What sbx.finish looks at before it decides what to run.
    if "threading" in sys.modules:
        sbx.threads_to_join(sys.modules["threading"])
    if sbx.SERVER_LOGGING is not None:
        sbx.logging_changed()


_WARM_PAGES = []  # (start, length): what a canned evaluation writes (llmrepl_prefault)


def _warm_pages(sock):
    """With lanes the spare waits beside the run before it: time enough to
    copy the pages its judge will write (llmrepl_prefault.populate), unless
    its request is here already, or comes meanwhile.
    The trace's duration, or None."""
    if not _WARM_PAGES or not _LANES or "pages" not in _LOADED or _pending(sock):
        return None
    import time
    t = time.monotonic_ns()
    sys.modules["llmrepl_prefault"].populate(_WARM_PAGES, lambda: _pending(sock))
    return (time.monotonic_ns() - t) // 1000


def _spare_main(sock, lane):
    """A forked child waiting to become the next run: everything that does
    not depend on the request (the fork itself, the interpreter's after-fork
    work, a session of its own) is done before the request arrives."""
    import os
    import _signal
    import socket
    if _LANES:
        # First its lane's uid alone. Until then it has the server's ids,
        # the other lane's uid among them as the saved one: a run under way
        # there may signal it (nothing else: see _reach), which the server
        # finds out before it offers this spare (_Spare.ready).
        uid = _LANES[lane]
        os.setresuid(uid, uid, uid)
        for fd in _LANE_CGROUPS[1 - lane]:
            os.close(fd)  # the other lane's: never within a run's reach
    # Into the run's cgroups (the host opened them: any process may be
    # moved through them), then nothing of the server's remains in reach.
    if sbx._TRACE:
        import time
        t = time.monotonic_ns()
    for i, fd in enumerate(_LANE_CGROUPS[lane]):
        step = "join"
        try:
            os.write(fd, b"0")
            if _FACTORY:
                # The candidate's workers join them too (through the judge,
                # which runs no code of the candidate's).
                import fcntl
                step = "keep"
                _CGROUP_HELD.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 64))
            os.close(fd)
        except OSError as e:
            # Never run outside the run's limits: tell the server which
            # cgroup and why (it reports it with the run's end), then give up.
            _gave_up(sock, i, step, e.errno)
    if sbx._TRACE:
        joined = ("+join", (time.monotonic_ns() - t) // 1000)
    if _LANES:
        sock.send(b"UP")  # out of the other lane's reach, in its cgroups
    os.setsid()
    # (_signal's own: signal.signal would convert to enums, code of the
    # server's a fork pays for in copied pages.)
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    os.chdir("/work")
    sys.path[:] = SERVER_PATH
    sock = _free_run_fds(sock)
    ahead = None
    warm = None
    if not _pending(sock):
        # The run not here yet: the work that need not wait for it (any
        # fd these open is closed again at once).
        _rehearse()
        warm = _warm_pages(sock)
        ahead = limits_ahead()
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 4096, 4)
            break
        except InterruptedError:
            continue
    try:
        sock.send(b"RUN")  # read by the server once this spare has ended (_spare_said)
    except OSError:
        pass
    if sbx._TRACE:
        sbx._MARKS[:] = [joined] + ([("+warm", warm)] if warm is not None else [])
        _mark("py.recv")
    # The socket carries what the run says once its request is read (its
    # trace's marks, "TRACE ...", and "ONE": llmrepl_sbx._trace_flush) and
    # is closed then, before anything of the run runs.
    import fcntl
    fd = sock.detach()
    sbx._TRACE_FD, sbx._TRACE_TEXT = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 64), True
    os.close(fd)  # out of the way of the fds a run gets (1-4)
    words = msg.decode().split()
    if len(words) != 5 or len(fds) != 4:
        posix._exit(0)
    _child(fds, tuple(int(w) for w in words), ahead, lane)


class _Spare:
    """The next run's process, forked ahead of time (after the previous run
    and everything it left were gone), offered to the host as spare n
    (offer(), once /work and /tmp are wiped): the host sends the run straight
    to it, on a copy of this socket. Forked before the wipe, it joins the
    run's cgroups while the server wipes."""

    def __init__(self, ctl, n):
        import os
        import socket
        got = _zygote_fork(_lane(n)) if _LANES else None
        if got is not None:
            pid, mine = got
        else:
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            pid = os.fork()
            if pid == 0:
                try:
                    _restore_at_fork()
                    mine.close()
                    ctl.close()
                    for echo in _ECHO:
                        echo.close()
                    _spare_main(theirs, _lane(n))
                finally:
                    posix._exit(1)
            theirs.close()
        self.is_up = False
        self.overlapped = False  # forked while a run could go on
        self.unchanged = False  # its nice and CPUs the server's, after that run (resume)
        self.pid = pid
        self.n = n
        self.sock = mine
        self.pidfd = os.pidfd_open(pid)

    def offer(self, ctl):
        import socket
        socket.send_fds(ctl, [b"SPARE %d" % self.n], [self.sock.fileno()])

    def said(self, word, wait_s):
        """Whether it says `word` (UP) within wait_s, alive and not
        stopped; anything else it said stays for _spare_said."""
        import os
        import select
        import time
        deadline = time.monotonic() + wait_s
        while self.pid not in _REAPED:
            try:
                if self.sock.recv(16, 0x42) == word:  # MSG_PEEK | MSG_DONTWAIT
                    self.sock.recv(16)
                    return True
                return False  # NOJOIN, or its end
            except BlockingIOError:
                pass
            except OSError:
                return False
            left = deadline - time.monotonic()
            # (Only a stop is reported: no WEXITED.)
            if left <= 0 or os.waitid(os.P_PID, self.pid,
                                      os.WSTOPPED | os.WNOHANG | os.WNOWAIT) is not None:
                return False
            try:
                r, _, _ = select.select([self.sock, self.pidfd], [], [], min(left, 0.005))
            except InterruptedError:
                continue
            if self.pidfd in r and self.sock not in r:
                return False
        return False

    def up(self, wait_s):
        """Whether it is out of the other lane's reach (it said UP)."""
        if not self.is_up:
            self.is_up = self.said(b"UP", wait_s)
        return self.is_up

    def resume(self, run_lane):
        """Once the run beside which it was forked (in run_lane, the other
        lane) and all that run left are dead: until its own setresuid
        (microseconds after the fork) that run could signal it, so any
        stop it sent is undone (SIGCONT, which also drops a stop still
        pending), and its nice and CPUs are compared with the server's at
        start (no process of the sandbox can change them now; nor its
        rlimits at all: prlimit on itself only). Any other signal of the
        run's was ignored (SIGINT too, until after its UP) or kills it,
        which ready() and the host see as its end. The server is in
        run_lane's uid again afterwards (for the wipe)."""
        import os
        import signal
        if self.pid in _REAPED:
            return
        _reach(_lane(self.n))
        try:
            os.kill(self.pid, signal.SIGCONT)
            self.unchanged = (os.getpriority(os.PRIO_PROCESS, self.pid) == _BASE[0] and
                              os.sched_getaffinity(self.pid) == _BASE[1])
        except OSError:
            self.unchanged = False
        _reach(run_lane)

    def ready(self):
        """Alive; and if forked while a run went on (ahead, in the other
        lane), resumed after that run (resume()), out of that lane's reach
        (it said UP) and its nice and CPUs unchanged. No round trip: the
        offer follows at once."""
        import select
        if self.overlapped and not (self.unchanged and self.up(2.0)):
            return False
        return self.pid not in _REAPED and not select.select([self.pidfd], [], [], 0)[0]

    def kill(self):
        """SIGKILL to it (alive but not ready: stopped, say); no run is under way."""
        import os
        import signal
        if self.pid in _REAPED:
            return
        _reach(_lane(self.n))
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def reap(self):
        """(wait status, rusage) of its end."""
        import os
        os.close(self.pidfd)
        if self.pid in _REAPED:
            return _REAPED.pop(self.pid)
        _, status, ru = os.wait4(self.pid, 0)
        return status, ru


def _spare_said(sock):
    """What the spare said on its socket before it ended: (had_run, gave_up).
    had_run: it received a run ("RUN", sent as soon as it had one). gave_up:
    " NOJOIN <cgroup> <step> <errno>" when it could not join the run's cgroups
    (no code of the run's ran: it never received more than the request's
    fds), else "". With the trace on, the run's process sends "TRACE <marks>"
    here too (kept in _SPARE_TRACE), and "ONE" when the run closed the
    second candidate factory's socket (llmrepl_sbx.run_once): the third
    value. Only the spare writes this socket, and it closes it once the
    request is read, before anything of the run runs."""
    import errno
    had_run, gave_up, one = False, "", False
    for _ in range(8):
        try:
            msg = sock.recv(512, 0x40)  # MSG_DONTWAIT
        except OSError as e:
            # A spare that died with the run's fds unread leaves ECONNRESET
            # pending ahead of what it sent.
            if e.errno == errno.ECONNRESET:
                continue
            break
        if not msg:
            break
        words = msg.decode("ascii", "replace").split()
        if words == ["RUN"]:
            had_run = True
        elif sbx._TRACE and words[:1] == ["TRACE"]:
            _SPARE_TRACE[:] = [" ".join(words[1:])]
        elif words == ["ONE"]:
            one = True
        elif len(words) == 4 and words[0] == "NOJOIN":
            gave_up = " " + " ".join(words)
    return had_run, gave_up, one


def _ctl_recv(ctl):
    """The host's next message on the control socket, as words; the server
    ends when the host is gone. "WARM <what>" (what later runs will need:
    "static", the static analysis tools; "pages", each spare's copies of the
    pages its judge will write) is noted for _load_wanted, and read as no
    words."""
    import os
    m, fds = wire.recv_fds(ctl, 6)
    for fd in fds:
        os.close(fd)
    if not m:
        _kill_all()
        posix._exit(0)  # the host is gone
    words = m.decode("ascii", "replace").split()
    if len(words) == 2 and words[0] == "WARM" and words[1] in _LOADABLE:
        if words[1] not in _LOADED:
            _WANTED.add(words[1])
        return []
    return words


_LOADABLE = ("static", "pages")
_WANTED = set()  # what the host said later runs will need, not loaded yet
_LOADED = set()


def _load_wanted():
    """Load what the host said later runs will need (see _ctl_recv), before
    the wipe and the fork of the next spare: every spare forked from then on
    finds it (a judge whose static service is off imports the static tools,
    ~140 ms, in every run otherwise). Frozen like the server's own imports;
    what the tools leave in /work or /tmp the wipe that follows removes."""
    if not _WANTED:
        return
    wanted = set(_WANTED)
    _LOADED.update(wanted)
    _WANTED.clear()
    if "static" not in wanted:
        return  # "pages": the spares forked from now on copy them (_warm_pages)
    try:
        import llmrepl_static
        llmrepl_static.load(warm=True)
    except Exception:  # noqa: BLE001 - the judge imports them itself then
        return
    if sbx.SERVER_LOGGING is None:
        _logging_at_exit()  # the tools brought logging in: as at the start
    import atexit
    sbx.ATEXIT_BASE = atexit._ncallbacks()  # what a judge finds (_answer_final)
    import gc
    gc.collect()
    gc.freeze()


def serve():
    """Protocol on fd 5 (SOCK_SEQPACKET), one message per datagram:
      host -> server  "LANE <c> <p>" with c + p fds: the second lane's c run
                      cgroups, then p (0 or 2) pids.current, each lane's
                      (first of all, only when the sandbox gave the server
                      two uids: see _lanes_init; see _lane_empty)
      spare -> server "UP" (with lanes) on its socket: it has its lane's uid
                      alone and is in its lane's run cgroups
      spare -> server "RUN" on its socket once it has its run; then, once
                      the request is read (before anything of the run
                      runs, and the socket is closed then), "TRACE <marks>"
                      (with the trace on) and "ONE" (it closed the second
                      candidate factory's socket: only the first is asked
                      to CLEAN after the run); read after the run's end
      server -> spare SIGCONT (with lanes), once the run beside which it
                      was forked and all that run left are dead: any stop
                      that run sent it is undone (see _Spare.resume)
      server -> host  "SPARE <n>" with 1 fd: the socket of spare number n,
                      forked for the next run (first before READY, then after
                      each DONE; with lanes, spare n is in lane (n - 1) % 2)
      server -> host  "READY <notes>"
      host -> spare   "<cpu_s> <memory_mb> <nproc> <fsize_mb> <nofile>" with 4
                      fds: stdout, stderr, answer, request (on the spare's
                      socket: the run needs no hop through the server; they
                      arrive as fds 1-4, which the spare keeps free)
      host -> server  "KILL <n>"  (timeout or output limit)
      server -> host  "DONE <n> <wait status> <utime_us> <stime_us> <maxrss_kb>
                      [NOJOIN <cgroup index> <step> <errno name>] [IDLE]"
                      once spare n's process and every process it left are
                      dead (the work dir and /tmp are wiped before the next
                      spare); NOJOIN: it could not join the run's cgroups and
                      exited 125 without reading a request, and the server
                      quits after saying so (the host makes fresh cgroups);
                      IDLE: it ended without a run (also a spare forked
                      ahead, never offered), and the next spare waits for the
                      host's "FORK"
      host -> server  "FORK"  offer the next spare (after an IDLE)
      host -> server  "WARM pages"  each spare copies the pages its judge
                      will write while it waits (calibrated at the start; only
                      asked by a host that runs one evaluation at a time: on
                      busy cores the copies cost CPU the runs beside need)
      host -> server  "WARM static"  later runs will need the static tools:
                      loaded before the next spare's fork (_load_wanted)
      server -> host  "GONE"  it could not clean up after a run and quits
    The server is pid 1: signals from the runs cannot reach it (it keeps no
    handlers), and it is not dumpable, so they cannot read or write its
    memory either. Between runs one forked child waits (a _Spare) so that a
    run does not wait for a fork; with lanes a second one waits in the other
    lane during a run, so that the next run does not wait for the fork and
    the cgroup move after this one either."""
    import ctypes
    import os
    import signal
    import socket

    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ctl = socket.socket(fileno=CTL_FD)
    _lanes_init(ctl)
    try:
        os.fstat(FACTORY_FD)
    except OSError:
        pass
    else:
        # Started by the sandbox before this process: its only child now.
        _FACTORY.update(_children() or ())
    notes = _warm_imports()
    _logging_at_exit()
    import atexit
    sbx.ATEXIT_BASE = atexit._ncallbacks()
    _skip_at_fork()
    global SERVER_PATH
    SERVER_PATH = list(sys.path)
    # The pages a judge writes, copied by each spare while it waits: only a
    # pool with a candidate factory serves evaluations (a plain one's runs
    # would not use them), and only with lanes does a spare wait beside a run.
    prefault = sys.modules.get("llmrepl_prefault") if _LANES and _FACTORY else None
    if prefault is not None:
        prefault.prepare()
    # Everything imported so far lives as long as the server: keep the
    # collector away from it, so that a forked run does not write to (and
    # so copy) every page of it when it collects.
    import gc
    gc.collect()
    gc.freeze()
    if prefault is not None:
        _WARM_PAGES[:] = prefault.calibrate()
        if not _WARM_PAGES:
            notes.append("the judge's pages are not copied ahead: none calibrated "
                         "(llmrepl_prefault)")
    # What the imports left (some tools make ~/.cache) is no run's business.
    _wipe("/work")
    _wipe("/tmp")
    global _BASE
    _BASE = _sched()
    if _LANES and _clone_ready():
        _zygote_start()
    spare, ahead, n = _next_spare(ctl, None, 0)
    ctl.send(("READY " + "; ".join(notes)).encode())
    after = ""  # the trace's durations of the wipe and fork after the last run
    while True:
        if spare is None:
            # The last spare ended without a run (killed from outside): the
            # next is offered when the host asks for it, not behind its back.
            _wait([ctl], ahead)
            if _ctl_recv(ctl) == ["FORK"]:
                spare, ahead, n = _next_spare(ctl, ahead, n)
            continue
        status, ru = _run_end(ctl, spare, ahead)
        del sbx._MARKS[:]
        _mark("s.reaped")
        had_run, gave_up, one = _spare_said(spare.sock)
        spare.sock.close()
        clean, peak = True, ru.ru_maxrss
        if had_run:
            # A spare that never had a run left nothing to clean up.
            clean = _factory_clean(one)
            _mark("s.factory")
            lane = _lane(spare.n)
            if _lane_empty(lane):
                # Nothing to kill; the run's uid, as after a sweep, for the
                # wipe of what it left (a dir of its own closed to all, a
                # file in the sticky /tmp).
                _reach(lane)
            else:
                if ahead is not None:
                    # Still forking (not yet its lane's uid alone), kill(-1)
                    # would take it with the run.
                    ahead.up(0.05)
                peak = max(peak, _kill_all(lane, (ahead.pid,) if ahead else ()))
            _mark("s.killall")
            if ahead is not None:
                # The spare after the one ahead is forked in this lane, now
                # that nothing of the run is left: asked for here, taken
                # before the offer (_next_spare), the zygote's fork beside
                # the server's DONE and wipe.
                _zygote_ask(lane)
        elif ahead is not None:
            ahead.overlapped = False  # nothing ran beside it
        trace = ""
        if sbx._TRACE:
            trace = " T %s %s %s" % (sbx._trace_words(), _SPARE_TRACE.pop() if _SPARE_TRACE else "",
                                     after)
        ctl.send(("DONE %d %d %d %d %d%s%s%s" % (
            spare.n, status, int(ru.ru_utime * 1e6), int(ru.ru_stime * 1e6),
            peak, gave_up, "" if had_run else " IDLE", trace)).encode())
        if gave_up:
            # This server's run cgroups are of no use: the host makes fresh
            # ones with a fresh server.
            _kill_all()
            posix._exit(3)
        spare = None
        if not had_run:
            continue
        if ahead is not None:
            # After DONE: the host has the run's end while the spare ahead
            # is looked at (the run and all it left are dead either way).
            ahead.resume(lane)
        # To kill the run's processes the server had the run's uid as its
        # real and effective one: a renice or fewer CPUs meanwhile (or a run
        # sharing its uid, without lanes) and it is no place to fork the
        # next from.
        if not clean or _STUCK or _sched() != _BASE:
            # Something of the run is left: the host starts a fresh server.
            _gone(ctl)
        _load_wanted()
        if sbx._TRACE:
            import time
            t = time.monotonic_ns()
        if ahead is None:
            # The next run's process first: its after-fork work and its move
            # into the run's cgroups overlap the wipe.
            n += 1
            ahead = _Spare(ctl, n)
        if sbx._TRACE:
            t1 = time.monotonic_ns()
        if not (_wipe("/work") and _wipe("/tmp")):
            # Something could not be removed (the spare dies with the rest).
            _gone(ctl)
        if sbx._TRACE:
            t2 = time.monotonic_ns()
        spare, ahead, n = _next_spare(ctl, ahead, n)
        if sbx._TRACE:
            # fork: the next spare's (before the wipe), or the one ahead's
            # in the other lane (after the offer).
            after = "+fork=%d +wipe=%d" % ((t1 - t + time.monotonic_ns() - t2) // 1000,
                                           (t2 - t1) // 1000)


_ECHO = []  # a socket pair of the server's own, for _rehearse_end


def _rehearse_end(spare):
    """What the server does between a run's end and its DONE, done once
    while the run goes on: after each fork the server shares its pages with
    the new spare again, and its first write to each copies it (~3 us
    here), which the run's end would wait for otherwise. Nothing of a run
    takes part: a socket pair of its own, the lane's count (read only), a
    DONE not sent; the run's process looked for (and if it has ended
    already, reaped and kept for reap())."""
    import os
    import select
    import socket
    select.select([spare.pidfd], [], [], 0)
    pid, status, ru = os.wait4(spare.pid, os.WNOHANG)
    if pid:
        _REAPED[pid] = (status, ru)
    if not _ECHO:
        _ECHO.extend(socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET))
    try:
        _ECHO[0].send(b"RUN")
    except OSError:
        return
    had_run, gave_up, _ = _spare_said(_ECHO[1])
    lane = _lane(spare.n)
    _lane_empty(lane)
    _sched()
    ("DONE %d %d %d %d %d%s%s%s" % (spare.n, status, int(ru.ru_utime * 1e6),
                                    int(ru.ru_stime * 1e6), ru.ru_maxrss, gave_up,
                                    "" if had_run else " IDLE", "")).encode()


def _run_end(ctl, spare, ahead):
    """Wait for the end of spare's process (killing the run on the host's
    "KILL <n>"); its (wait status, rusage)."""
    _rehearse_end(spare)
    while True:
        ready = _wait([ctl, spare.pidfd], ahead)
        if ctl in ready and _ctl_recv(ctl) == ["KILL", str(spare.n)]:
            _kill_run(_lane(spare.n))
        if spare.pidfd in ready:
            return spare.reap()


def _wait(fds, ahead):
    """select() on fds; a spare ahead that ends meanwhile (killed from
    outside, say) is reaped at once, its end kept for _next_spare."""
    import os
    import select
    while True:
        watch = list(fds)
        if ahead is not None and ahead.pid not in _REAPED:
            watch.append(ahead.pidfd)
        try:
            ready, _, _ = select.select(watch, [], [])
        except InterruptedError:
            continue
        if ahead is not None and ahead.pidfd in ready:
            _, status, ru = os.wait4(ahead.pid, 0)
            _REAPED[ahead.pid] = (status, ru)
        ready = [fd for fd in ready if fd in fds]
        if ready:
            return ready


def _kill_run(lane):
    """SIGKILL to every process of the run under way in `lane` (not to the
    spare ahead in the other)."""
    import os
    import signal
    if _LANES:
        _reach(lane)
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    if _LANES:
        _reach(1 - lane)


def _next_spare(ctl, ahead, n):
    """Offer the next spare: `ahead` (forked earlier) if it is still alive,
    else a fresh fork; with lanes, fork the one after it into the other
    lane at once, so that it is ready, joined to its cgroups, by the end of
    the run it overlaps. Returns (offered, ahead, the last spare number);
    offered is None when `ahead` ended unused (reported to the host, which
    answers "FORK")."""
    if _LANES and ahead is not None and not ahead.ready():
        ahead.kill()
        status, ru = ahead.reap()
        _, gave_up, _ = _spare_said(ahead.sock)
        ahead.sock.close()
        ctl.send(("DONE %d %d %d %d %d%s IDLE" % (
            ahead.n, status, int(ru.ru_utime * 1e6), int(ru.ru_stime * 1e6), ru.ru_maxrss,
            gave_up)).encode())
        if gave_up:
            _kill_all()
            posix._exit(3)
        return None, None, n
    if ahead is None:
        n += 1
        ahead = _Spare(ctl, n)
    nxt = None
    if _LANES and _ZYG:
        # Forked by the zygote, which takes the next one's lane as its
        # real and saved uid for it: done before the offer, so that the run
        # offered finds the zygote out of its reach (see _Zygote).
        nxt = _Spare(ctl, n + 1)
    if _LANES:
        _reach(1 - _lane(ahead.n))
    ahead.offer(ctl)
    if not _LANES:
        return ahead, None, n
    if nxt is None:
        nxt = _Spare(ctl, n + 1)
    nxt.overlapped = True  # the run offered may start before it is its lane's uid alone
    return ahead, nxt, n + 1


_LANES = ()  # the two lanes' uids, when the server has both (run as root)
_LANE_CGROUPS = []  # per lane: the cgroup.procs (or tasks) fds of its run cgroups
_LANE_PIDS = []  # per lane: its run pids cgroup's pids.current (read-only), or none
_BASE = None  # the server's _sched() as it started


def _lane(n):
    """The lane of spare n."""
    return (n - 1) % 2 if _LANES else 0


def _reach(lane):
    """The server's (real, effective, saved) uids with `lane`'s uid as the
    real and effective one and the other lane's as the saved one: it may
    signal the processes of `lane` (kill(-1) reaches them, never a process
    of the other lane, whose ids are all that lane's uid), and only they may
    renice it or narrow its CPUs (setpriority and sched_setaffinity want the
    caller's effective uid to be the target's real or effective one;
    prlimit of another process the seccomp filter refuses). A run in lane L
    only goes on while the server is _reach(1 - L): its signals to pid 1
    are dropped (pid 1 of its namespace, no handlers), nothing else of it
    reaches the server. Each is a permutation of the two uids the sandbox
    gave it: no privilege needed, none kept."""
    import os
    os.setresuid(_LANES[lane], _LANES[lane], _LANES[1 - lane])


def _sched():
    """This process's nice, CPUs and rlimits: what a process that reaches
    it could change."""
    import os
    import resource
    return (os.getpriority(os.PRIO_PROCESS, 0), os.sched_getaffinity(0),
            tuple(resource.getrlimit(r) for r in (
                resource.RLIMIT_CPU, resource.RLIMIT_AS, resource.RLIMIT_NPROC,
                resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE, resource.RLIMIT_NICE)))


def _lanes_init(ctl):
    """Two lanes when the sandbox gave the server two uids (as root: the
    second lane's as its real uid, the slot's as its effective one, which
    exec made the saved one too): runs alternate between them, each with its
    own uid and run cgroups (the second lane's fds come from the host as
    "LANE" with up to 4 fds, before anything else), and the next run's spare
    waits in the other lane while a run goes on, out of its reach (see
    _reach). Before the first spare: _reach(1)."""
    import os
    global _LANES
    _LANE_CGROUPS[:] = [RUN_CGROUP_FDS]
    ruid, euid, _ = os.getresuid()
    if ruid == euid:
        return
    _LANES = (euid, ruid)
    _reach(1)
    # Done before anything else (the wipe opens /work to both lanes).
    m, fds = wire.recv_fds(ctl, 6)
    words = m.split()
    if words[:1] != [b"LANE"] or len(words) != 3 or int(words[1]) + int(words[2]) != len(fds):
        raise SystemExit("llmrepl_pool: expected the second lane's cgroups")
    cgroups = int(words[1])
    _LANE_CGROUPS.append(tuple(fds[:cgroups]))
    _LANE_PIDS[:] = fds[cgroups:]


def _gone(ctl):
    """The server cannot make a clean place for the next run: "GONE" to the
    host, which starts a fresh server; every process of the namespace dies."""
    ctl.send(b"GONE")
    _kill_all()
    posix._exit(3)


SERVER_PATH = []
RUN_CGROUP_FDS = ()  # --run-cgroup=6,7: cgroup.procs of the run's cgroups


def entry(args):
    """--server ARGS (the pool's server) or --factory (the candidate factory
    of the judge/candidate split), chosen by llmrepl_entry.py."""
    if args[:1] == ["--factory"]:
        import llmrepl_candidate
        llmrepl_candidate.factory_main(_wipe, set_limits, args[1:] == ["--second"])
    else:
        main(args[1:])


def main(args):
    global RUN_CGROUP_FDS
    for a in args:
        if a.startswith("--run-cgroup="):
            RUN_CGROUP_FDS = tuple(int(w) for w in a.split("=", 1)[1].split(","))
    serve()


# The zygote: with lanes, a process forked from the server once its imports
# are done, which forks the spares and does nothing else (_zygote_main).
# A fork shares every page with the child, and each page either one writes
# afterwards is copied (~3 us here): the server writes ~180 pages between
# two forks (the run's end, DONE, the wipe, the control messages), which
# each spare forked from it had to copy again; the zygote writes a few.
# Its spares are the server's children (clone with CLONE_PARENT), so the
# server waits for them, reaps them and kills them as before.
#
# Its uids: forking a spare for lane Y it is (Y, O, Y) (real, effective,
# saved; O the other lane's), the spare then takes (Y, Y, Y). A process may
# signal another when its real or effective uid is the target's real or
# saved one: only lane Y's processes reach it, and a spare of lane Y is
# asked for only once the run in Y before it and all that run left are
# dead, and is forked before the next run (in O) is offered: while a run
# goes on the zygote has that run's uid as its effective one only. So no
# run's signals reach it, nor the server's kill(-1) of a lane. An equal
# effective uid would let a run renice it or narrow its CPUs, which the
# seccomp filter allows on the caller only (setpriority with who 0,
# sched_setaffinity of pid 0; prlimit64 likewise). The server still looks at
# it before each request (_Zygote.usable): one changed from outside, dead
# or stopped is replaced by a fresh fork of the server.
_ZYG = []  # the zygote, when there is one
_CLONE = []  # libc's syscall() (through ctypes.pythonapi: the GIL kept), its args
_ZYG_TRIES = [0]  # zygotes started since one last forked; past a few the server forks


def _clone_ready():
    """Whether the spares can be forked by a zygote as the server's
    children: clone(CLONE_PARENT | SIGCHLD) through libc's syscall(), with
    CPython's own before- and after-fork work around it as os.fork does."""
    import ctypes
    nr = {"x86_64": 56, "aarch64": 220}.get(_os.uname().machine)
    if nr is None:
        return False
    try:
        api = ctypes.pythonapi
        call = api.syscall
        call.restype = ctypes.c_long
        for f in (api.PyOS_BeforeFork, api.PyOS_AfterFork_Parent, api.PyOS_AfterFork_Child):
            f.restype = None
            f.argtypes = []
    except AttributeError:
        return False
    zero = ctypes.c_long(0)
    _CLONE[:] = [call, (ctypes.c_long(nr), ctypes.c_long(0x8000 | 17), zero, zero, zero, zero),
                 api.PyOS_BeforeFork, api.PyOS_AfterFork_Parent, api.PyOS_AfterFork_Child]
    return True


def _clone_parent():
    """A fork whose child is the caller's parent's (the server's); -1 on
    failure."""
    call, args, before, parent, child = _CLONE
    before()
    pid = call(*args)
    if pid == 0:
        child()
    else:
        parent()
    return pid


def _zygote_state():
    """What a spare reads of the server's state that may change: a zygote
    forked before a change is replaced."""
    return (frozenset(_FACTORY), frozenset(_LOADED))


def _zygote_main(zs):
    """Read one byte (the lane), take that lane's uid as the real and saved
    one, fork a spare, send the server its pid and the server's end of its
    socket; nothing else."""
    import os
    import socket
    zfd = zs.fileno()
    while True:
        try:
            b = os.read(zfd, 1)
        except InterruptedError:
            continue
        if not b:
            posix._exit(0)
        lane = b[0] - 48
        os.setresuid(_LANES[lane], _LANES[1 - lane], _LANES[lane])
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = _clone_parent()
        if pid == 0:
            try:
                _restore_at_fork()
                zs.close()
                mine.close()
                _spare_main(theirs, lane)
            finally:
                posix._exit(1)
        socket.send_fds(zs, [b"%d" % pid], [mine.fileno()] if pid > 0 else [])
        mine.close()
        theirs.close()


class _Zygote:
    """The server's side of the zygote (see above)."""

    def __init__(self):
        import os
        import socket
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        keep = {0, 1, 2, ANS_FD, REQ_FD, theirs.fileno(), FACTORY_FD, sbx._TRACE_FD}
        keep.update(RUN_CGROUP_FDS, _LANE_PIDS, *_LANE_CGROUPS)
        if _FACTORY:
            import llmrepl_judge
            keep.update(llmrepl_judge.factories())
        pid = os.fork()
        if pid == 0:
            try:
                # Only what a spare is given (the control socket, the
                # spares' sockets and pidfds are the server's).
                lo = 0
                for fd in sorted(f for f in keep if f >= 0):
                    if fd > lo:  # (closerange(n, n) would close them all)
                        os.closerange(lo, fd)
                    lo = fd + 1
                os.closerange(lo, 1 << 16)
                _zygote_main(theirs)
            finally:
                posix._exit(1)
        theirs.close()
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        self.sock = mine
        self.state = _zygote_state()
        self.lane = None  # the lane it last forked for: its real uid
        self.pending = None  # the lane asked for, not yet answered

    def usable(self):
        """Alive, not stopped, forked from the server's present state, its
        nice and CPUs the server's at start."""
        import os
        import select
        if self.pid in _REAPED or self.state != _zygote_state():
            return False
        try:
            if select.select([self.pidfd], [], [], 0)[0] or os.waitid(
                    os.P_PID, self.pid, os.WSTOPPED | os.WNOHANG | os.WNOWAIT) is not None:
                return False
            return (os.getpriority(os.PRIO_PROCESS, self.pid) == _BASE[0] and
                    os.sched_getaffinity(self.pid) == _BASE[1])
        except OSError:
            return False

    def ask(self, lane):
        try:
            self.sock.send(b"01"[lane:lane + 1])
        except OSError:
            return False
        self.pending = lane
        return True

    def answer(self):
        """(pid, the server's end of its socket) of the spare asked for, or
        None (the zygote died or does not answer)."""
        import os
        import select
        import socket
        import time
        lane, self.pending = self.pending, None
        deadline = time.monotonic() + 2.0
        while True:
            try:
                r, _, _ = select.select([self.sock, self.pidfd], [], [], 0.01)
            except InterruptedError:
                continue
            if self.sock in r:
                break
            if self.pidfd in r or time.monotonic() > deadline or os.waitid(
                    os.P_PID, self.pid, os.WSTOPPED | os.WNOHANG | os.WNOWAIT) is not None:
                return None
        try:
            m, fds, _flags, _addr = socket.recv_fds(self.sock, 64, 1)
            pid = int(m)
        except (OSError, ValueError):
            return None
        if pid <= 0 or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            return None
        self.lane = lane
        return pid, socket.socket(fileno=fds[0])

    def fork(self, lane):
        if self.pending is not None and self.pending != lane:
            got = self.answer()
            if got is not None:
                _discard(got, 1 - lane)
        if self.pending is None and not (self.usable() and self.ask(lane)):
            return None
        return self.answer()

    def end(self):
        """SIGKILL (from the uid it has as its real one) and reap."""
        import os
        _kill_as(self.pid, (0, 1))
        self.sock.close()
        os.close(self.pidfd)
        _reap_pid(self.pid)


def _discard(got, lane):
    """A spare the zygote forked that is not wanted after all (asked for in
    the other lane): killed and reaped."""
    pid, sock = got
    _kill_as(pid, (lane,))
    sock.close()
    _reap_pid(pid)


def _kill_as(pid, lanes):
    """SIGKILL to pid from each of lanes' uids in turn; the server's own
    uids given back after."""
    import os
    import signal
    ids = os.getresuid()
    for lane in lanes:
        _reach(lane)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    os.setresuid(*ids)


def _reap_pid(pid):
    """pid's end reaped, unless the server's sweep already has it."""
    import os
    if _REAPED.pop(pid, None) is None:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _zygote_start():
    """A fresh zygote (forked from the server as it is now); none after a
    few have failed: the server forks its spares itself then."""
    if _ZYG_TRIES[0] >= 8:
        return None
    _ZYG_TRIES[0] += 1
    _ZYG[:] = [_Zygote()]
    return _ZYG[0]


def _zygote_pids():
    return frozenset(z.pid for z in _ZYG)


def _zygote_ask(lane):
    """Ask the zygote ahead of time for the next spare in `lane` (only when
    nothing it would be forked from has changed)."""
    if _ZYG and _ZYG[0].pending is None and not _WANTED and _ZYG[0].usable():
        _ZYG[0].ask(lane)


def _zygote_fork(lane):
    """A spare for `lane` from the zygote: (pid, the server's end of its
    socket); a zygote that failed is replaced once. None without a zygote."""
    for _ in range(2):
        if not _ZYG:
            return None
        got = _ZYG[0].fork(lane)
        if got is not None:
            _ZYG_TRIES[0] = 0
            return got
        _ZYG.pop().end()
        _zygote_start()
    return None
