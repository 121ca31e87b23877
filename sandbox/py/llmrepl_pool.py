"""llmrepl_pool.py - the pool's server (sbx_pool): llmrepl_entry.py --server.

It is pid 1 of the sandbox's namespaces, imports what runs will need, then
forks one child per request received on the control socket (fd 5); see
serve(). Kept apart from llmrepl_sbx, whose code every cold run loads: a
cold run never reads this module. The candidate factory (--factory) takes
its _wipe and set_limits.
"""
import os as _os
import sys

import posix

import llmrepl_sbx as sbx
from llmrepl_sbx import ANS_FD, CTL_FD, REQ_FD, _mark

_SPARE_TRACE = []  # the last run's trace marks, from its spare (LLMREPL_SBX_TRACE)


def _warm_imports():
    """Everything a run is likely to import, imported once here so that a
    forked run finds it in memory."""
    import json  # noqa: F401
    import traceback  # noqa: F401
    import os  # noqa: F401
    import resource  # noqa: F401  (a shared object: set_limits in every run's process)
    notes = []
    for name in ("llmrepl_harness", "llmrepl_group", "llmrepl_io", "pyflakes.api", "bandit", "radon.complexity",
                 "radon.metrics", "radon.raw"):
        try:
            __import__(name)
        except Exception as e:  # a missing optional tool only costs speed
            notes.append("%s: %s" % (name, type(e).__name__))
    return notes


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
        # one); /tmp (root's, 1777) is not.
        _os.chmod(path, 0o777 if _FACTORY or path != "/work" else 0o700)
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


def _children():
    try:
        with open("/proc/1/task/1/children", "rb") as f:
            return {int(w) for w in f.read().split()}
    except (OSError, ValueError):
        return None


def _kill_all():
    """Kill every process of the namespace but this one (pid 1) and the
    candidate factory, and reap them all, including orphans of orphans.
    Returns the largest peak memory (kB) of those reaped: the candidate's
    workers are orphans (see llmrepl_candidate), so this is the kernel's
    figure for the code's processes."""
    import os
    import signal
    import time
    if os.getpid() != 1:
        # kill(-1) is only ever meant for the sandbox's own namespace.
        raise SystemExit("llmrepl_sbx: refusing kill(-1) outside the sandbox")
    peak = 0
    stuck = None
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        try:
            pid, _, ru = os.wait4(-1, os.WNOHANG if _FACTORY else 0)
        except ChildProcessError:
            return peak
        except InterruptedError:
            continue
        if pid == 0:
            left = _children()
            if left is None or left <= _FACTORY:
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
        peak = max(peak, ru.ru_maxrss)
        if pid in _FACTORY:
            _FACTORY.discard(pid)  # it died (killed by a run): runs go on without it


def _factory_clean():
    """Between runs: the factory kills what the code left under its uid and
    empties /work and /tmp of its files. False when the factory is gone."""
    import socket
    if not _FACTORY:
        return True
    try:
        s = socket.socket(fileno=posix.dup(FACTORY_FD))
    except OSError:
        return False
    try:
        s.settimeout(5)
        s.send(b"CLEAN")
        return s.recv(16) == b"OK"
    except OSError:
        return False
    finally:
        s.close()


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
        with open("/proc/self/statm", "rb") as f:
            vm = int(f.read().split()[0]) * resource.getpagesize()
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


def _child(fds, lim, ahead):
    import os
    import fcntl
    # Out of the way of 1-4 first: the received fds may have any numbers.
    req, ans, out, err = (fcntl.fcntl(fd, fcntl.F_DUPFD, 16) for fd in fds)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.dup2(ans, ANS_FD)
    os.dup2(req, REQ_FD)
    keep = [sbx._TRACE_FD] if sbx._TRACE_FD >= 0 else []
    if _FACTORY:
        # The candidate factory's socket and the run's cgroups stay, for
        # llmrepl_judge.
        keep = sorted(keep + [FACTORY_FD] + _CGROUP_HELD)
        import llmrepl_judge
        llmrepl_judge.CGROUP_FDS = tuple(_CGROUP_HELD)
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


def _gave_up(sock, index, step, err):
    """The spare could not join the run's cgroup number `index`: "NOJOIN"
    to the server (which adds it to the run's DONE) and exit 125."""
    import errno
    try:
        sock.send(("NOJOIN %d %s %s" % (index, step, errno.errorcode.get(err, err))).encode())
    except OSError:
        pass
    posix._exit(125)


def _spare_main(sock):
    """A forked child waiting to become the next run: everything that does
    not depend on the request (the fork itself, the interpreter's after-fork
    work, a session of its own) is done before the request arrives."""
    import os
    import signal
    import socket
    # Into the run's cgroups first (the host opened them: any process may be
    # moved through them), then nothing of the server's remains in reach.
    if sbx._TRACE:
        import time
        t = time.monotonic_ns()
    for i, fd in enumerate(RUN_CGROUP_FDS):
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
    os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir("/work")
    sys.path[:] = SERVER_PATH
    ahead = limits_ahead()
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 4096, 4)
            break
        except InterruptedError:
            continue
    try:
        sock.send(b"RUN")  # the server then forks the next spare without being asked
    except OSError:
        pass
    if sbx._TRACE:
        # The socket carries this run's marks ("TRACE ...", _trace_flush)
        # and is closed before the request is read, like it is otherwise.
        sbx._MARKS[:] = [joined]
        _mark("py.recv")
        import fcntl
        fd = sock.detach()
        sbx._TRACE_FD, sbx._TRACE_TEXT = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 64), True
        os.close(fd)  # out of the way of the fds a run gets (1-4)
    else:
        sock.close()
    words = msg.decode().split()
    if len(words) != 5 or len(fds) != 4:
        posix._exit(0)
    _child(fds, tuple(int(w) for w in words), ahead)


class _Spare:
    """The next run's process, forked ahead of time (after the previous run
    and everything it left were gone), offered to the host as spare n
    (offer(), once /work and /tmp are wiped): the host sends the run straight
    to it, on a copy of this socket. Forked before the wipe, it joins the
    run's cgroups while the server wipes."""

    def __init__(self, ctl, n):
        import os
        import socket
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                mine.close()
                ctl.close()
                _spare_main(theirs)
            finally:
                posix._exit(1)
        theirs.close()
        self.pid = pid
        self.n = n
        self.sock = mine
        self.pidfd = os.pidfd_open(pid)

    def offer(self, ctl):
        import socket
        socket.send_fds(ctl, [b"SPARE %d" % self.n], [self.sock.fileno()])


def _spare_said(sock):
    """What the spare said on its socket before it ended: (had_run, gave_up).
    had_run: it received a run ("RUN", sent as soon as it had one). gave_up:
    " NOJOIN <cgroup> <step> <errno>" when it could not join the run's cgroups
    (no code of the run's ran: it never received more than the request's
    fds), else "". With the trace on, the run's process sends "TRACE <marks>"
    here too (kept in _SPARE_TRACE). Only the spare writes this socket, and
    it closes it before the request is read."""
    import errno
    had_run, gave_up = False, ""
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
        elif len(words) == 4 and words[0] == "NOJOIN":
            gave_up = " " + " ".join(words)
    return had_run, gave_up


def _ctl_recv(ctl):
    """The host's next message on the control socket, as words; the server
    ends when the host is gone."""
    import os
    import socket
    while True:
        try:
            m, fds, _flags, _addr = socket.recv_fds(ctl, 4096, 4)
            break
        except InterruptedError:
            continue
    for fd in fds:
        os.close(fd)
    if not m:
        _kill_all()
        posix._exit(0)  # the host is gone
    return m.decode("ascii", "replace").split()


def serve():
    """Protocol on fd 5 (SOCK_SEQPACKET), one message per datagram:
      server -> host  "SPARE <n>" with 1 fd: the socket of spare number n,
                      forked for the next run (first before READY, then after
                      each DONE)
      server -> host  "READY <notes>"
      host -> spare   "<cpu_s> <memory_mb> <nproc> <fsize_mb> <nofile>" with 4
                      fds: request, answer, stdout, stderr (on the spare's
                      socket: the run needs no hop through the server)
      host -> server  "KILL <n>"  (timeout or output limit)
      server -> host  "DONE <n> <wait status> <utime_us> <stime_us> <maxrss_kb>
                      [NOJOIN <cgroup index> <step> <errno name>] [IDLE]"
                      once spare n's process and every process it left are
                      dead (the work dir and /tmp are wiped before the next
                      spare); NOJOIN: it could not join the run's cgroups and
                      exited 125 without reading a request, and the server
                      quits after saying so (the host makes fresh cgroups);
                      IDLE: it ended without a run, and the next spare waits
                      for the host's "FORK"
      host -> server  "FORK"  fork the next spare (after an IDLE)
      server -> host  "GONE"  it could not clean up after a run and quits
    The server is pid 1: signals from the runs cannot reach it (it keeps no
    handlers), and it is not dumpable, so they cannot read or write its
    memory either. Between runs one forked child waits (a _Spare) so that a
    run does not wait for a fork."""
    import ctypes
    import os
    import select
    import signal
    import socket

    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.fstat(FACTORY_FD)
    except OSError:
        pass
    else:
        # Started by the sandbox before this process: its only child now.
        _FACTORY.update(_children() or ())
    notes = _warm_imports()
    global SERVER_PATH
    SERVER_PATH = list(sys.path)
    # Everything imported so far lives as long as the server: keep the
    # collector away from it, so that a forked run does not write to (and
    # so copy) every page of it when it collects.
    import gc
    gc.collect()
    gc.freeze()
    # What the imports left (some tools make ~/.cache) is no run's business.
    _wipe("/work")
    _wipe("/tmp")
    ctl = socket.socket(fileno=CTL_FD)
    n = 1
    spare = _Spare(ctl, n)
    spare.offer(ctl)
    ctl.send(("READY " + "; ".join(notes)).encode())
    after = ""  # the trace's durations of the wipe and fork after the last run
    while True:
        if spare is None:
            # The last spare ended without a run (killed from outside): the
            # next is forked when the host asks for it, not behind its back.
            if _ctl_recv(ctl) == ["FORK"]:
                n += 1
                spare = _Spare(ctl, n)
                spare.offer(ctl)
            continue
        run_id = str(spare.n)
        pid, pidfd = spare.pid, spare.pidfd
        while True:
            try:
                ready, _, _ = select.select([ctl, pidfd], [], [])
            except InterruptedError:
                continue
            if ctl in ready and _ctl_recv(ctl) == ["KILL", run_id]:
                os.kill(-1, signal.SIGKILL)
            if pidfd in ready:
                break
        os.close(pidfd)
        _, status, ru = os.wait4(pid, 0)
        del sbx._MARKS[:]
        _mark("s.reaped")
        had_run, gave_up = _spare_said(spare.sock)
        spare.sock.close()
        clean, peak = True, ru.ru_maxrss
        if had_run:
            # A spare that never had a run left nothing to clean up.
            clean = _factory_clean()
            _mark("s.factory")
            peak = max(peak, _kill_all())
            _mark("s.killall")
        trace = ""
        if sbx._TRACE:
            trace = " T %s %s %s" % (sbx._trace_words(), _SPARE_TRACE.pop() if _SPARE_TRACE else "",
                                     after)
        ctl.send(("DONE %s %d %d %d %d%s%s%s" % (
            run_id, status, int(ru.ru_utime * 1e6), int(ru.ru_stime * 1e6),
            peak, gave_up, "" if had_run else " IDLE", trace)).encode())
        if gave_up:
            # This server's run cgroups are of no use: the host makes fresh
            # ones with a fresh server.
            _kill_all()
            posix._exit(3)
        if had_run and not (clean and not _STUCK):
            # Something of the run is left: the host starts a fresh server.
            _gone(ctl)
        if sbx._TRACE:
            import time
            t = time.monotonic_ns()
        spare = None
        if had_run:
            # The next run's process first: its after-fork work and its move
            # into the run's cgroups overlap the wipe.
            n += 1
            spare = _Spare(ctl, n)
        if sbx._TRACE:
            t1 = time.monotonic_ns()
        if had_run and not (_wipe("/work") and _wipe("/tmp")):
            # Something could not be removed (the spare dies with the rest).
            _gone(ctl)
        if spare is not None:
            spare.offer(ctl)
        if sbx._TRACE:
            after = "+fork=%d +wipe=%d" % ((t1 - t) // 1000, (time.monotonic_ns() - t1) // 1000)


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
    if args == ["--factory"]:
        import llmrepl_candidate
        llmrepl_candidate.factory_main(_wipe, set_limits)
    else:
        main(args[1:])


def main(args):
    global RUN_CGROUP_FDS
    for a in args:
        if a.startswith("--run-cgroup="):
            RUN_CGROUP_FDS = tuple(int(w) for w in a.split("=", 1)[1].split(","))
    serve()
