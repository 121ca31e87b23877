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
  {"mode": "evaluate_group", "items": [...], ...}
      several evaluations, one forked child each, framed answers
      (llmrepl_group).
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

Pool server (--server) and candidate factory (--factory): in llmrepl_pool,
which a cold run never loads (llmrepl_entry.py chooses).

A cold run is one interpreter start, so this module imports only builtin
modules on that path: JSON is read and written by a small reader and writer
of its own (and the _json accelerator for big documents), not by the json
package (which pulls in re and enum, several milliseconds). It is imported (from its
precompiled .pyc, which `make` writes) rather than run as a script, which
Python would compile on every start.
"""
import sys

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


def _mark(name):
    if _TRACE:
        import time
        _MARKS.append((name, time.monotonic_ns()))


def _trace_words():
    words = " ".join("%s=%d" % m for m in _MARKS)
    del _MARKS[:]
    return words


def _trace_flush(say=None):
    """Send the marks and close the channel, before any code of the run. A
    pooled run's channel is its spare's socket to the server (held with or
    without the trace): `say` goes there too ("ONE": see run_once)."""
    global _TRACE_FD
    fd, _TRACE_FD = _TRACE_FD, -1
    if fd < 0:
        return
    try:
        if _TRACE_TEXT:
            if _TRACE:
                posix.write(fd, ("TRACE " + _trace_words()).encode())
            if say:
                posix.write(fd, say.encode())
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
#
# Most requests and answers are small; for them a reader and writer in plain
# Python are faster than loading the _json accelerator (a shared object:
# ~0.3 ms of every cold run). Bigger ones go through _json, loaded then, and
# so does every request once _json is loaded (the pool's server has it: a
# pooled evaluation's request, ~5 kB, is ~0.2 ms in plain Python, ~0.02 ms
# through _json).

SMALL_JSON = 16 << 10

_WS = " \t\n\r"
_ESC = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
        "t": "\t"}
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")
_CONST = {"true": True, "false": False, "null": None, "NaN": float("nan"),
          "Infinity": float("inf"), "-Infinity": float("-inf")}


class _Ctx:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = None

    @staticmethod
    def parse_constant(name):
        return _CONST[name]


_scan = []


def _bad(i):
    return ValueError("invalid JSON at offset %d" % i)


def _skip(s, i):
    n = len(s)
    while i < n and s[i] in _WS:
        i += 1
    return i


def _chunk(s, i, j, parts):
    """s[i:j], a run of a string without escapes: no control characters."""
    if j > i:
        part = s[i:j]
        if min(part) < " ":
            raise _bad(i)
        parts.append(part)


def _hex4(s, i):
    h = s[i:i + 4]
    if len(h) != 4 or not _HEX.issuperset(h):
        raise _bad(i)
    return int(h, 16)


def _string(s, i):
    """The string starting after the quote at i - 1: (value, end)."""
    parts = []
    while True:
        q = s.find('"', i)
        if q < 0:
            raise _bad(i)
        b = s.find("\\", i, q)
        if b < 0:
            _chunk(s, i, q, parts)
            return "".join(parts), q + 1
        _chunk(s, i, b, parts)
        e = s[b + 1:b + 2]
        if e == "u":
            code = _hex4(s, b + 2)
            i = b + 6
            if 0xD800 <= code < 0xDC00 and s[i:i + 2] == "\\u":
                low = _hex4(s, i + 2)
                if 0xDC00 <= low < 0xE000:
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
            parts.append(chr(code))
        elif e in _ESC:
            parts.append(_ESC[e])
            i = b + 2
        else:
            raise _bad(b)


def _digits(s, k, n, at):
    """The end of the run of digits at k; a JSON number at `at` needs one."""
    f = k
    while k < n and s[k] in _DIGITS:
        k += 1
    if k == f:
        raise _bad(at)
    return k


def _number(s, i):
    j = i + (s[i:i + 1] == "-")
    n = len(s)
    k = _digits(s, j, n, i)
    if s[j] == "0" and k > j + 1:
        raise _bad(i)
    is_float = False
    if s[k:k + 1] == ".":
        k = _digits(s, k + 1, n, i)
        is_float = True
    if s[k:k + 1] in ("e", "E"):
        k += 1
        if s[k:k + 1] in ("+", "-"):
            k += 1
        k = _digits(s, k, n, i)
        is_float = True
    text = s[i:k]
    return (float(text) if is_float else int(text)), k


def _value(s, i):
    c = s[i:i + 1]
    if c == '"':
        return _string(s, i + 1)
    if c == "{":
        obj = {}
        i = _skip(s, i + 1)
        if s[i:i + 1] == "}":
            return obj, i + 1
        while True:
            if s[i:i + 1] != '"':
                raise _bad(i)
            key, i = _string(s, i + 1)
            i = _skip(s, i)
            if s[i:i + 1] != ":":
                raise _bad(i)
            obj[key], i = _value(s, _skip(s, i + 1))
            i = _skip(s, i)
            c = s[i:i + 1]
            if c == "}":
                return obj, i + 1
            if c != ",":
                raise _bad(i)
            i = _skip(s, i + 1)
    if c == "[":
        arr = []
        i = _skip(s, i + 1)
        if s[i:i + 1] == "]":
            return arr, i + 1
        while True:
            v, i = _value(s, i)
            arr.append(v)
            i = _skip(s, i)
            c = s[i:i + 1]
            if c == "]":
                return arr, i + 1
            if c != ",":
                raise _bad(i)
            i = _skip(s, i + 1)
    for name in ("true", "false", "null", "NaN", "Infinity", "-Infinity"):
        if s.startswith(name, i):
            return _CONST[name], i + len(name)
    if c == "-" or c in _DIGITS:
        return _number(s, i)
    raise _bad(i)


def loads(text):
    i = _skip(text, 0)
    if len(text) <= SMALL_JSON and not _scan and "_json" not in sys.modules:
        value, end = _value(text, i)
    else:
        if not _scan:
            import _json
            _scan.append(_json.make_scanner(_Ctx()))
        try:
            value, end = _scan[0](text, i)
        except StopIteration:
            raise ValueError("no JSON document at offset %d" % i) from None
    if _skip(text, end) != len(text):
        raise ValueError("extra data after the JSON document")
    return value


_ASCII_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
              "\b": "\\b", "\f": "\\f"}


def _encode_str(s):
    """As json.dumps(s) (ensure_ascii) does."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    if len(s) > SMALL_JSON:
        import _json
        return _json.encode_basestring_ascii(s)
    out = []
    for ch in s:
        if " " <= ch < "\x7f" and ch != '"' and ch != "\\":
            out.append(ch)
        elif ch in _ASCII_ESC:
            out.append(_ASCII_ESC[ch])
        else:
            o = ord(ch)
            if o < 0x10000:
                out.append("\\u%04x" % o)
            else:
                o -= 0x10000
                out.append("\\u%04x\\u%04x" % (0xD800 | (o >> 10), 0xDC00 | (o & 0x3FF)))
    return '"' + "".join(out) + '"'


def dumps(obj):
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, str):
        return _encode_str(obj)
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
    final = req.get("final_mark") is True
    if final:
        sys.modules["llmrepl_judge"].FINAL = True
    answer = llmrepl_harness.evaluate(req)
    text = answer if isinstance(answer, str) else json.dumps(answer, default=str)
    if final:
        _answer_final(text)  # returns with the answer written and closed
    else:
        write_answer(text)
    return 0


ATEXIT_BASE = None  # atexit's functions in the pool's server (llmrepl_pool.serve)
FINAL_WAIT_S = 5.0  # for the factory's END (as the server's CLEAN waits)


def _answer_final(text):
    """The answer, marked final, then the end of this process, when nothing
    can change the run's outcome after it: the code's processes are all
    dead and reaped (the factory said so, llmrepl_judge.ended), this
    process, one thread, is all that is left of the run (its pids cgroup
    counts one: no process the tests left either, llmrepl_judge.alone), and
    nothing of the tests' can run here on the way out (no timer, no atexit
    function or logging handler but the server's: finish() would only flush
    the streams, done here). The host then takes the run's outcome at the
    answer and reaps its end beside what follows (sbx_limits.early_answer):
    after the JSON, a NUL and this process's peak memory in kB (children
    included), then the answer's, stdout's and stderr's ends, and exit
    status 0. Returns with the answer written (unmarked) and closed when any
    of that does not hold."""
    import resource
    import signal
    data = text.encode("utf-8", "surrogatepass")
    try:
        while data:
            data = data[posix.write(ANS_FD, data):]
        judge = sys.modules["llmrepl_judge"]
        if not judge.ended(FINAL_WAIT_S) or not judge.alone() or not _quiet_exit():
            return _close_answer()
        if any(signal.getitimer(t) != (0.0, 0.0) for t in (
                signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)):
            return _close_answer()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        posix.write(ANS_FD, b"\0%d" % peak)
    except BaseException:
        return _close_answer()
    for fd in (ANS_FD, 1, 2):
        try:
            posix.close(fd)
        except OSError:
            pass
    posix._exit(0)


def _close_answer():
    try:
        posix.close(ANS_FD)
    except OSError:
        pass


def _quiet_exit():
    """Whether finish() would run nothing but the streams' flush."""
    threading = sys.modules.get("threading")
    if threading is not None and threads_to_join(threading):
        return False
    if ATEXIT_BASE is None or atexit._ncallbacks() != ATEXIT_BASE:
        return False
    return SERVER_LOGGING is None and "logging" not in sys.modules or \
        SERVER_LOGGING is not None and not logging_changed()


def run_once():
    """Read a request, run it, answer. Returns the exit status."""
    try:
        req = read_request()
        _mark("py.request")
        if not isinstance(req, dict):
            raise ValueError("the request is not a JSON object")
    except (ValueError, UnicodeDecodeError, KeyError, OSError) as e:
        _trace_flush()
        write_answer(dumps({"ok": False, "error": {
            "type": "RequestError", "message": "bad request: %s" % e}}))
        return 2
    mode = req.get("mode", "exec")
    if mode != "evaluate" and mode != "evaluate_group":
        # Only an evaluation's judge has any use for the candidate factory
        # (the harness closes it too when it runs the code in process).
        close_judge_fds()
    elif mode == "evaluate":
        # One evaluation asks only the first factory: the second (the turns
        # of a grouped run's items) is closed before anything of the run's
        # runs, so nothing of it can have reached that one.
        _close_sockets(FACTORY_FDS[1:])
    # "ONE": the server need not ask the second factory to clean up after
    # this run (said before anything of the run's runs; the channel is
    # closed then).
    _trace_flush("ONE" if mode != "evaluate_group" else None)
    if mode == "exec":
        return run_exec(req)
    if mode == "evaluate":
        return run_evaluate(req)
    if mode == "evaluate_group":
        import llmrepl_group
        return llmrepl_group.run(req, write_answer, finish)
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


FACTORY_FDS = (10, 12)  # the candidate factories' sockets, when the sandbox started them


def close_judge_fds():
    """Close the candidate factories' sockets and, in the pool, the run's
    cgroups and count of processes kept for the judge
    (llmrepl_judge.close_fds): before any code runs in this process."""
    judge = sys.modules.get("llmrepl_judge")
    if judge is not None:
        judge.close_fds()
        return
    _close_sockets(FACTORY_FDS)


def _close_sockets(fds):
    """Close those of fds that are sockets (a candidate factory's)."""
    for fd in fds:
        try:
            if posix.fstat(fd).st_mode & 0o170000 == 0o140000:  # a socket
                posix.close(fd)
        except OSError:
            pass


def threads_to_join(threading):
    """Whether threading._shutdown() has anything to do: a thread to join
    or a threading atexit function. Without, it would only mark the main
    thread stopped, and in a forked run it touches (and so copies) pages of
    the server's for that (~60 us). Unknown versions of the module: yes."""
    try:
        return bool(threading._shutdown_locks or threading._threading_atexits)
    except AttributeError:
        return True


# The logging handlers a pool's server had when it took logging.shutdown out
# of atexit (see llmrepl_pool._logging_at_exit); None: it is in atexit.
SERVER_LOGGING = None


def logging_changed():
    """Whether the logging handlers are other than the server's."""
    now = sys.modules["logging"]._handlerList
    return len(now) != len(SERVER_LOGGING) or not all(
        a is b for a, b in zip(now, SERVER_LOGGING))


def _logging_shutdown():
    """logging.shutdown(), as atexit would run it last (it was registered
    when the server imported logging, before anything of the run), unless
    the run left the server's handlers as they were: then it would only
    flush and close those, whose stream is sys.stderr (flushed here anyway),
    and in a forked run that costs ~0.1 ms of the server's pages copied."""
    try:
        if logging_changed():
            sys.modules["logging"].shutdown()
    except BaseException:
        pass


def finish(status):
    """Exit as the interpreter would (threads joined, atexit run, streams
    flushed) without tearing down every module."""
    threading = sys.modules.get("threading")
    if threading is not None and threads_to_join(threading):
        try:
            threading._shutdown()
        except BaseException:
            pass
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    if SERVER_LOGGING is not None:
        _logging_shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    posix._exit(status)


GATE_FD = 5


def main(args):
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
