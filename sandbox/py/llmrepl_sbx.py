"""llmrepl_sbx.py - what the sandbox runs, started by llmrepl_entry.py.

Cold run (no arguments): read one JSON request from fd 4, run it, write one
JSON answer to fd 3, exit with the code's status. The code's own stdout and
stderr are fds 1 and 2; stdin is /dev/null, unless the request comes framed
as "LLMREPL-STDIN <n>\n" + n bytes of JSON: then the rest of fd 4 (streamed
by the host, ended by its close) becomes the code's stdin.

  {"mode": "exec", "code": "...", "argv": [...]}
      Run the code as __main__ (saved as /work/main.py so tracebacks show
      its lines). Answer {"ok": true} or {"ok": false, "error": {"type",
      "message", "line"}} or {"ok": false, "exit": N} for sys.exit(N).
      An uncaught MemoryError answers with "end": "memory" first, which the
      host reports as the memory limit.
  {"mode": "evaluate", ...}
      answer = llmrepl_harness.evaluate(request), written as JSON.
  {"mode": "session", "cells": [...], "code": "...", ...}
      one cell of a REPL session, the earlier cells replayed first
      (llmrepl_session).
  {"mode": "repl"}, framed as for stdin
      a held interpreter: the rest of fd 4 carries cells, each answered
      with one frame on fd 3 (llmrepl_session.serve).
  {"mode": "static"}, framed as for stdin
      the static service: each frame of fd 4 is one code to analyse
      (pyflakes, bandit, radon), answered with one frame on fd 3
      (llmrepl_static.serve).
  {"mode": "io_prepare", ...} / {"mode": "io_check", ...}
      the io test form's judge steps (llmrepl_io): parse and static checks
      of a program, and a job's python checker on one case's output.

Pool server (--server): the pre-forked interpreter of sbx_pool. It is pid 1
of the sandbox's namespaces, imports what runs will need, then forks one
child per request received on the control socket (fd 5); see serve().

A cold run is one interpreter start, so this module imports only builtin
modules on that path: the _json accelerator instead of the json package
(which pulls in re and enum, several milliseconds). It is imported (from its
precompiled .pyc, which `make` writes) rather than run as a script, which
Python would compile on every start.
"""
import sys

import _json
import atexit
import builtins
import posix

ANS_FD = 3
REQ_FD = 4
CTL_FD = 5
MAIN_PATH = "/work/main.py"
REQUEST_MAX = 64 << 20

for _p in ("/usr/local/lib/python3/dist-packages", "/usr/lib/python3/dist-packages",
           "/usr/lib/python3.%d/dist-packages" % sys.version_info[1]):
    if _p not in sys.path:
        sys.path.append(_p)
sys.path.append("/sandbox")


# ---- the timing trace (LLMREPL_SBX_TRACE=1; see sandbox/sbx_trace.h) -----------

_TRACE = posix.environ.get(b"LLMREPL_SBX_TRACE") == b"1"
_TRACE_FD = -1  # a cold run: the status pipe (fd 11); a pooled run: its spare socket
_TRACE_TEXT = False  # "name=ns ..." (pool) instead of sbx_msg records (cold)
_MARKS = []
_SPARE_TRACE = []  # the pool's server: the last run's marks, from its spare


def _mark(name):
    if _TRACE:
        import time
        _MARKS.append((name, time.monotonic_ns()))


def _trace_words():
    words = " ".join("%s=%d" % m for m in _MARKS)
    del _MARKS[:]
    return words


def _trace_flush():
    """Send the marks and close the channel, before any code of the run."""
    global _TRACE_FD
    fd, _TRACE_FD = _TRACE_FD, -1
    if fd < 0:
        return
    try:
        if _TRACE_TEXT:
            posix.write(fd, ("TRACE " + _trace_words()).encode())
        else:
            import _struct
            posix.write(fd, b"".join(_struct.pack("=c3xii4xqqq160s", b"T", 0, 0, ns, 0, 0,
                                                  name.encode()) for name, ns in _MARKS))
    except OSError:
        pass
    try:
        posix.close(fd)
    except OSError:
        pass


_mark("py.start")


# ---- JSON without the json package ---------------------------------------------

class _Ctx:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = None

    @staticmethod
    def parse_constant(name):
        return {"NaN": float("nan"), "Infinity": float("inf"),
                "-Infinity": float("-inf")}[name]


_scan = _json.make_scanner(_Ctx())


def loads(text):
    i = 0
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    try:
        value, end = _scan(text, i)
    except StopIteration:
        raise ValueError("no JSON document at offset %d" % i) from None
    while end < n and text[end] in " \t\r\n":
        end += 1
    if end != n:
        raise ValueError("extra data after the JSON document")
    return value


def dumps(obj):
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, str):
        return _json.encode_basestring_ascii(obj)
    if isinstance(obj, int):
        return int.__repr__(obj)
    if isinstance(obj, float):
        return float.__repr__(obj) if obj == obj and obj not in (float("inf"), float("-inf")) \
            else "null"
    if isinstance(obj, dict):
        return "{" + ", ".join(dumps(str(k)) + ": " + dumps(v) for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(dumps(v) for v in obj) + "]"
    return dumps(str(obj))


# ---- fds -----------------------------------------------------------------------

STDIN_MAGIC = b"LLMREPL-STDIN "


def _read_exact(n):
    chunks = []
    while n > 0:
        b = posix.read(REQ_FD, min(n, 1 << 16))
        if not b:
            raise ValueError("the request ended early")
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def _framed_request(first):
    """"LLMREPL-STDIN <n>\n", n bytes of JSON, then the code's stdin: fd 4
    becomes fd 0 once the JSON is read (nothing of stdin is read here)."""
    head = first
    while not head.endswith(b"\n"):
        if len(head) > 40:
            raise ValueError("bad stdin framing")
        b = posix.read(REQ_FD, 1)
        if not b:
            raise ValueError("the request ended early")
        head += b
    if not head.startswith(STDIN_MAGIC):
        raise ValueError("bad stdin framing")
    n = int(head[len(STDIN_MAGIC):-1])
    if not 0 < n <= REQUEST_MAX:
        raise ValueError("bad stdin framing")
    data = _read_exact(n)
    posix.dup2(REQ_FD, 0)
    posix.close(REQ_FD)
    import _io
    sys.stdin = sys.__stdin__ = _io.open(0, "r", encoding="utf-8", errors="surrogateescape",
                                          closefd=False)
    return loads(data.decode("utf-8", "surrogatepass"))


def read_request():
    chunks = []
    size = 0
    try:
        first = posix.read(REQ_FD, 1)
    except OSError:
        first = b""
    if first == b"L":
        return _framed_request(first)
    if first:
        chunks.append(first)
        size = 1
    while True:
        try:
            b = posix.read(REQ_FD, 1 << 16)
        except OSError:
            break
        if not b:
            break
        size += len(b)
        if size > REQUEST_MAX:
            raise ValueError("request larger than %d bytes" % REQUEST_MAX)
        chunks.append(b)
    try:
        posix.close(REQ_FD)
    except OSError:
        pass
    return loads(b"".join(chunks).decode("utf-8", "surrogatepass"))


def write_answer(text):
    data = text.encode("utf-8", "surrogatepass")
    try:
        while data:
            data = data[posix.write(ANS_FD, data):]
    except OSError:
        pass
    # Closed now: code that runs later (atexit handlers, threads) cannot add to it.
    try:
        posix.close(ANS_FD)
    except OSError:
        pass


# ---- running code --------------------------------------------------------------

class _Quitter:
    """exit() and quit(): site.py defines them, and -S skips site."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "Use %s() or Ctrl-D (i.e. EOF) to exit" % self.name

    def __call__(self, code=None):
        raise SystemExit(code)


builtins.exit = _Quitter("exit")
builtins.quit = _Quitter("quit")


def _error_line(tb, path):
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _exit_status(code):
    """What sys.exit(code) makes the process exit with, as CPython does."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
    except Exception:
        pass
    return 1


def run_exec(req):
    code = req.get("code")
    if not isinstance(code, str):
        write_answer(dumps({"ok": False, "error": {
            "type": "RequestError", "message": "the request has no code"}}))
        return 2
    argv = req.get("argv") or []
    path = MAIN_PATH
    try:
        fd = posix.open(path, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC,
                        0o600)
        try:
            data = code.encode("utf-8", "surrogatepass")
            while data:
                data = data[posix.write(fd, data):]
        finally:
            posix.close(fd)
    except OSError:
        path = "main.py"  # too big for the work dir: run it without a file
    sys.argv = [path] + [str(a) for a in argv]
    sys.path.insert(0, "/work")
    main = type(sys)("__main__")
    main.__file__ = path
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    try:
        co = compile(code, path, "exec", dont_inherit=True)
        exec(co, main.__dict__)
    except SystemExit as e:
        status = _exit_status(e.code)
        write_answer(dumps({"ok": status == 0, "exit": status}))
        return status
    except BaseException as e:
        tb = e.__traceback__
        # Drop this function's own frame from the traceback.
        if tb is not None:
            e.__traceback__ = tb.tb_next
        sys.__excepthook__(type(e), e, e.__traceback__)
        err = {"type": type(e).__name__, "message": str(e)}
        if isinstance(e, SyntaxError):
            err["line"] = e.lineno
        else:
            err["line"] = _error_line(tb, path)
        if isinstance(e, MemoryError):
            write_answer(dumps({"end": "memory", "ok": False, "error": err}))
        else:
            write_answer(dumps({"ok": False, "error": err}))
        return 1
    write_answer(dumps({"ok": True}))
    return 0


def run_evaluate(req):
    import json
    try:
        import llmrepl_harness
    except ImportError as e:
        write_answer(json.dumps({"ok": False, "error": {
            "type": "HarnessMissing",
            "message": "the evaluation harness llmrepl_harness is not installed "
                       "in the sandbox: %s" % e}}))
        return 2
    answer = llmrepl_harness.evaluate(req)
    write_answer(answer if isinstance(answer, str) else json.dumps(answer, default=str))
    return 0


def run_once():
    """Read a request, run it, answer. Returns the exit status."""
    try:
        req = read_request()
        _mark("py.request")
        _trace_flush()
        if not isinstance(req, dict):
            raise ValueError("the request is not a JSON object")
    except (ValueError, UnicodeDecodeError, KeyError, OSError) as e:
        _trace_flush()
        write_answer(dumps({"ok": False, "error": {
            "type": "RequestError", "message": "bad request: %s" % e}}))
        return 2
    mode = req.get("mode", "exec")
    if mode == "exec":
        return run_exec(req)
    if mode == "evaluate":
        return run_evaluate(req)
    if mode == "session":
        import llmrepl_session
        return llmrepl_session.run(req, dumps, write_answer)
    if mode == "repl":
        import llmrepl_session
        return llmrepl_session.serve(req, dumps, loads)
    if mode == "static":
        import llmrepl_static
        return llmrepl_static.serve(dumps, loads)
    if mode in ("io_prepare", "io_check"):
        import llmrepl_io
        write_answer(dumps(llmrepl_io.handle(req)))
        return 0
    write_answer(dumps({"ok": False, "error": {
        "type": "RequestError", "message": "unknown mode %r" % (mode,)}}))
    return 2


def finish(status):
    """Exit as the interpreter would (threads joined, atexit run, streams
    flushed) without tearing down every module."""
    if "threading" in sys.modules:
        try:
            sys.modules["threading"]._shutdown()
        except BaseException:
            pass
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    posix._exit(status)


# ---- the pool's server ---------------------------------------------------------

def _warm_imports():
    """Everything a run is likely to import, imported once here so that a
    forked run finds it in memory."""
    import json  # noqa: F401
    import traceback  # noqa: F401
    import os  # noqa: F401
    notes = []
    for name in ("llmrepl_harness", "llmrepl_io", "pyflakes.api", "bandit", "radon.complexity",
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
    server, whose tmpfs dies with it."""
    import os
    import stat
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        # /work is ours (open to the candidate factory's uid when there is
        # one); /tmp (root's, 1777) is not.
        os.chmod(path, 0o777 if _FACTORY or path != "/work" else 0o700)
    except OSError:
        pass
    try:
        stack = [(os.open(path, flags), None)]
    except OSError:
        return False
    try:
        while stack:
            fd = stack[-1][0]
            sub = None
            with os.scandir(fd) as entries:
                for e in entries:
                    if stat.S_ISDIR(os.lstat(e.name, dir_fd=fd).st_mode):
                        os.chmod(e.name, 0o700, dir_fd=fd)
                        sub = (os.open(e.name, flags, dir_fd=fd), e.name)
                        break
                    os.unlink(e.name, dir_fd=fd)
            if sub is not None:
                stack.append(sub)
                continue
            fd, name = stack.pop()
            os.close(fd)
            if stack:
                os.rmdir(name, dir_fd=stack[-1][0])
    except OSError:
        for fd, _ in stack:
            os.close(fd)
        return False
    return not os.listdir(path)


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


def set_limits(lim):
    """A run's rlimits (cpu_s, memory_mb, nproc, fsize_mb, nofile) on this
    forked process; the address space counts from what it already maps."""
    import resource
    cpu, mem_mb, nproc, fsize_mb, nofile = lim
    try:
        with open("/proc/self/statm", "rb") as f:
            vm = int(f.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        vm = 64 << 20
    for res, soft, hard in (
            (resource.RLIMIT_CPU, cpu, cpu + 1),
            (resource.RLIMIT_AS, vm + (mem_mb << 20), vm + (mem_mb << 20)),
            (resource.RLIMIT_NPROC, nproc, nproc),
            (resource.RLIMIT_FSIZE, fsize_mb << 20, fsize_mb << 20),
            (resource.RLIMIT_NOFILE, nofile, nofile)):
        # Never above what this process may have (a cold run's candidate
        # factory already has the run's limits).
        cur = resource.getrlimit(res)[1]
        if cur != resource.RLIM_INFINITY:
            soft, hard = min(soft, cur), min(hard, cur)
        resource.setrlimit(res, (soft, hard))


def _child(fds, lim):
    import os
    import fcntl
    # Out of the way of 1-4 first: the received fds may have any numbers.
    req, ans, out, err = (fcntl.fcntl(fd, fcntl.F_DUPFD, 16) for fd in fds)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.dup2(ans, ANS_FD)
    os.dup2(req, REQ_FD)
    keep = [_TRACE_FD] if _TRACE_FD >= 0 else []
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
    set_limits(lim)
    _mark("py.limits")
    status = 1
    try:
        status = run_once()
    except BaseException:
        try:
            sys.__excepthook__(*sys.exc_info())
        except BaseException:
            pass
    finish(status)


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
    os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir("/work")
    sys.path[:] = SERVER_PATH
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 4096, 4)
            break
        except InterruptedError:
            continue
    if _TRACE:
        # The socket carries this run's marks ("TRACE ...", _trace_flush)
        # and is closed before the request is read, like it is otherwise.
        global _TRACE_FD, _TRACE_TEXT
        del _MARKS[:]
        _mark("py.recv")
        import fcntl
        fd = sock.detach()
        _TRACE_FD, _TRACE_TEXT = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 64), True
        os.close(fd)  # out of the way of the fds a run gets (1-4)
    else:
        sock.close()
    words = msg.decode().split()
    if len(words) != 5 or len(fds) != 4:
        posix._exit(0)
    _child(fds, tuple(int(w) for w in words))


class _Spare:
    """The next run's process, forked ahead of time (after the previous run
    and everything it left were gone)."""

    def __init__(self, ctl):
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
        self.sock = mine
        self.pidfd = os.pidfd_open(pid)

    def alive(self):
        import select
        return not select.select([self.pidfd], [], [], 0)[0]

    def discard(self):
        import os
        self.sock.close()
        os.close(self.pidfd)


def _spare_said(sock):
    """" NOJOIN <cgroup> <step> <errno>" when the run's process was a spare
    that could not join the run's cgroups (no code of the run's ran: it
    never received more than the request's fds), else "". With the trace on,
    the run's process sends "TRACE <marks>" here (kept in _SPARE_TRACE). Only the spare
    writes this socket, and it closes it before the request is read."""
    import errno
    for _ in range(2):
        try:
            msg = sock.recv(512, 0x40)  # MSG_DONTWAIT
            break
        except OSError as e:
            # A spare that died with the run's fds unread leaves ECONNRESET
            # pending ahead of what it sent.
            if e.errno != errno.ECONNRESET:
                return ""
    else:
        return ""
    words = msg.decode("ascii", "replace").split()
    if _TRACE and words[:1] == ["TRACE"]:
        _SPARE_TRACE[:] = [" ".join(words[1:])]
    if len(words) == 4 and words[0] == "NOJOIN":
        return " " + " ".join(words)
    return ""


def serve():
    """Protocol on fd 5 (SOCK_SEQPACKET), one message per datagram:
      server -> host  "READY <notes>"
      host -> server  "RUN <id> <cpu_s> <memory_mb> <nproc> <fsize_mb> <nofile>"
                      with 4 fds: request, answer, stdout, stderr
      host -> server  "KILL <id>"  (timeout or output limit)
      server -> host  "DONE <id> <wait status> <utime_us> <stime_us> <maxrss_kb>
                      [NOJOIN <cgroup index> <step> <errno name>]"
                      once the run's process and every process it left are
                      dead (the work dir and /tmp are wiped before the next);
                      NOJOIN: the run's process could not join the run's
                      cgroups and exited 125 without reading the request
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
    spare = _Spare(ctl)
    ctl.send(("READY " + "; ".join(notes)).encode())
    after = ""  # the trace's durations of the wipe and fork after the last run
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctl, 4096, 4)
        except InterruptedError:
            continue
        del _MARKS[:]
        _mark("s.recv")
        if not msg:
            _kill_all()
            posix._exit(0)  # the host is gone
        words = msg.decode().split()
        if len(words) != 7 or words[0] != "RUN" or len(fds) != 4:
            for fd in fds:
                os.close(fd)
            continue
        run_id = words[1]
        if not spare.alive():
            _, _status, _ru = os.wait4(spare.pid, 0)
            spare.discard()
            spare = _Spare(ctl)
        try:
            socket.send_fds(spare.sock, [" ".join(words[2:]).encode()], fds)
        except OSError:
            pass  # it died just now: reported below like any other end
        for fd in fds:
            os.close(fd)
        _mark("s.handoff")
        pid, pidfd = spare.pid, spare.pidfd
        while True:
            try:
                ready, _, _ = select.select([ctl, pidfd], [], [])
            except InterruptedError:
                continue
            if ctl in ready:
                m = ctl.recv(4096)
                if not m:
                    _kill_all()
                    posix._exit(0)
                if m.decode().split() == ["KILL", run_id]:
                    os.kill(-1, signal.SIGKILL)
            if pidfd in ready:
                break
        os.close(pidfd)
        _, status, ru = os.wait4(pid, 0)
        _mark("s.reaped")
        gave_up = _spare_said(spare.sock)
        spare.sock.close()
        clean = _factory_clean()
        _mark("s.factory")
        peak = max(ru.ru_maxrss, _kill_all())
        _mark("s.killall")
        trace = ""
        if _TRACE:
            trace = " T %s %s %s" % (_trace_words(), _SPARE_TRACE.pop() if _SPARE_TRACE else "",
                                     after)
        ctl.send(("DONE %s %d %d %d %d%s%s" % (
            run_id, status, int(ru.ru_utime * 1e6), int(ru.ru_stime * 1e6),
            peak, gave_up, trace)).encode())
        if _TRACE:
            import time
            t = time.monotonic_ns()
        if not (clean and not _STUCK and _wipe("/work") and _wipe("/tmp")):
            # Something could not be removed: the host starts a fresh server
            # (and sends a run it may already have sent there).
            ctl.send(b"GONE")
            _kill_all()
            posix._exit(3)
        if _TRACE:
            t1 = time.monotonic_ns()
        spare = _Spare(ctl)
        if _TRACE:
            after = "+wipe=%d +fork=%d" % ((t1 - t) // 1000, (time.monotonic_ns() - t1) // 1000)


SERVER_PATH = []
RUN_CGROUP_FDS = ()  # --run-cgroup=6,7: cgroup.procs of the run's cgroups

GATE_FD = 5


def main(args):
    if args[:1] == ["--server"]:
        global RUN_CGROUP_FDS
        for a in args[1:]:
            if a.startswith("--run-cgroup="):
                RUN_CGROUP_FDS = tuple(int(w) for w in a.split("=", 1)[1].split(","))
        serve()
        return
    if args == ["--factory"]:
        import llmrepl_candidate
        llmrepl_candidate.factory_main(_wipe, set_limits)
        return
    if _TRACE:
        global _TRACE_FD
        _TRACE_FD = 11  # the status pipe (see sbx_child.c python_fds)
    if args == ["--gated"]:
        # The init opens the gate once this process is in the run's cgroups.
        if posix.read(GATE_FD, 1) != b"g":
            posix._exit(125)
        posix.close(GATE_FD)
        _mark("py.gate")
    finish(run_once())
