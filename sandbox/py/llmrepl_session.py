"""llmrepl_session.py - cells of a REPL session: mode "session" (one cell
in a fresh interpreter, the earlier cells replayed) and mode "repl" (a held
interpreter answering cell after cell, see serve()).

  {"mode": "session", "cells": ["...", ...], "code": "...", "timeout_s": N,
   "value_max": N, "base": N}

The cells given (the session's cells after the first `base`) are replayed first, in order, in one globals
dict, their output discarded and their errors ignored (a cell that raised
keeps what it did before raising, as in a REPL); then `code` runs in the same
dict with the process's real stdout and stderr. When the cell's last
statement is an expression, the repr of its value (at most value_max
characters) is the answer's `value`, and `_` is bound to it.

The cell gets timeout_s of wall clock of its own (an exception at the limit;
the host's limit, above it, is the hard one). Answer:
  {"ok": true, "value": "...", "has_value": bool, "replayed": n,
   "replay_errors": n, "cell_s": seconds}
  {"ok": false, ..., "error": {"type", "message", "line"}, "traceback": "..."}
"""
import sys
import builtins


class _Sink:
    def write(self, s):
        return len(s)

    def flush(self):
        pass


class CellTimeout(BaseException):
    pass


def _compile_cell(code, name):
    import ast
    import linecache
    linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    tree = ast.parse(code, name, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    body = compile(tree, name, "exec", dont_inherit=True)
    expr = compile(last, name, "eval", dont_inherit=True) if last is not None else None
    return body, expr


def _run_cell(code, name, g):
    body, expr = _compile_cell(code, name)
    exec(body, g)
    if expr is None:
        return False, None
    return True, eval(expr, g)


def _alarm(signum, frame):
    raise CellTimeout()


def _line(tb, name):
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == name:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _cell_frames(tb):
    """The traceback's entries in the cells, as traceback.extract_tb gives
    them (column positions and sys.tracebacklimit included), without its work
    on the entries left out: extract_tb walks the positions and reads the
    source of every frame of the library code a cell called (a failing cell
    with json's frames in between: ~0.09 ms -> ~0.045 ms)."""
    import traceback
    position = getattr(traceback, "_get_code_position", None)
    extract = getattr(traceback.StackSummary, "_extract_from_extended_frame_gen", None)
    if position is None or extract is None:  # not 3.11's traceback module
        return [f for f in traceback.extract_tb(tb) if f.filename.startswith("<cell ")]
    limit = getattr(sys, "tracebacklimit", None)
    if limit is not None and limit < 0:
        limit = 0
    keep = []
    seen = 0
    while tb is not None and (limit is None or seen < limit):
        co = tb.tb_frame.f_code
        if co.co_filename.startswith("<cell "):
            pos = position(co, tb.tb_lasti)
            keep.append((tb.tb_frame, pos if pos[0] is not None else (tb.tb_lineno,) + pos[1:]))
        seen += 1
        tb = tb.tb_next
    return extract(iter(keep), limit=None)


def _fresh_globals():
    main = type(sys)("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    return main.__dict__


def _replay(cells, base, g, stop=()):
    """Run cells in g as the session ran them (output discarded, errors
    ignored); an exception of a `stop` class (a deadline's) goes on up."""
    real = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = _Sink()
    errors = 0
    try:
        for i, c in enumerate(cells):
            try:
                has, value = _run_cell(str(c), "<cell %d>" % (base + i + 1), g)
                if has and value is not None:
                    g["_"] = value
            except stop:
                raise
            except BaseException:
                errors += 1
    finally:
        sys.stdout, sys.stderr = real
    return errors


def replay(cells, g, stop=()):
    """An evaluation's session: the session's recorded cells run in the code's
    globals g before the code (the names they define are the code's own).
    Returns how many raised."""
    return _replay(list(cells or ()), 0, g, stop) if cells else 0


def defined_names(cells):
    """Names the cells bind at their top level (for the static checks of code
    that runs after them)."""
    import ast
    names = set()
    for c in cells or ():
        try:
            tree = ast.parse(str(c))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
    names.add("_")
    return names


def _cell(req, g):
    """Replay req's cells, run its code; the answer (a dict)."""
    import signal
    import time
    cells = req.get("cells") or []
    code = req.get("code")
    if not isinstance(code, str) or not isinstance(cells, list):
        return {"ok": False, "error": {"type": "RequestError",
                                       "message": "the request has no code"}}
    value_max = int(req.get("value_max") or 4096)
    timeout_s = float(req.get("timeout_s") or 0)
    base = int(req.get("base") or 0)
    answer = {"ok": True, "replayed": len(cells), "replay_errors": _replay(cells, base, g)}
    name = "<cell %d>" % (base + len(cells) + 1)
    if timeout_s > 0:
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
    start = time.monotonic()
    try:
        has, value = _run_cell(code, name, g)
        if timeout_s > 0:
            signal.setitimer(signal.ITIMER_REAL, 0)
        answer["has_value"] = has
        if has and value is not None:
            g["_"] = value
            text = repr(value)
            if len(text) > value_max:
                text = text[:value_max] + "..."
            answer["value"] = text
    except BaseException as e:
        if timeout_s > 0:
            signal.setitimer(signal.ITIMER_REAL, 0)
        answer["ok"] = False
        if isinstance(e, CellTimeout):
            answer["end"] = "timeout"
            err = {"type": "TimeoutError",
                   "message": "the cell ran over its time limit of %g s" % timeout_s}
        else:
            err = {"type": type(e).__name__, "message": str(e)}
        err["line"] = e.lineno if isinstance(e, SyntaxError) else _line(e.__traceback__, name)
        import traceback  # only for a cell that failed: a cold start spares ~5 ms
        frames = _cell_frames(e.__traceback__)
        head = "%s: %s\n" % (err["type"], err["message"]) if isinstance(e, CellTimeout) \
            else "".join(traceback.format_exception_only(type(e), e))
        text = ("Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
                if frames else "") + head
        answer["error"] = err
        answer["traceback"] = text
        if isinstance(e, MemoryError):
            answer["end"] = "memory"
        try:
            sys.stderr.write(text)
        except BaseException:
            pass
    answer["cell_s"] = time.monotonic() - start
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    return answer


def run(req, dumps, write_answer):
    """One cell in a fresh interpreter (mode "session")."""
    sys.path.insert(0, "/work")
    write_answer(dumps(_cell(req, _fresh_globals())))
    return 0


def _read(fd, n):
    import posix
    chunks = []
    while n > 0:
        b = posix.read(fd, min(n, 1 << 16))
        if not b:
            return None
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def held_channel():
    """A held interpreter's request channel (sbx_held.c): fd 0, moved aside
    (the fd returned) so that the code's stdin is /dev/null."""
    import posix
    ctl = posix.dup(0)
    devnull = posix.open("/dev/null", posix.O_RDONLY)
    posix.dup2(devnull, 0)
    posix.close(devnull)
    return ctl


def read_frame(fd):
    """One frame of a held interpreter's channel, "<n>\n" + n bytes: the
    bytes, or None at the channel's end."""
    import posix
    head = b""
    while not head.endswith(b"\n"):
        b = posix.read(fd, 1)
        if not b or len(head) > 20:
            return None
        head += b
    return _read(fd, int(head))


def write_frame(fd, data):
    """One answer frame, "<n>\n" + data, written whole."""
    import posix
    out = b"%d\n" % len(data) + data
    while out:
        out = out[posix.write(fd, out):]


def serve(req, dumps, loads):
    """A held interpreter (mode "repl"): fd 0 carries frames "<n>\n" + a
    cell request as for mode "session"; each is answered with one frame on
    the answer fd. The globals live until the stream ends."""
    ctl = held_channel()
    sys.path.insert(0, "/work")
    g = _fresh_globals()
    while True:
        data = read_frame(ctl)
        if data is None:
            return 0
        try:
            cell = loads(data.decode("utf-8", "surrogatepass"))
            answer = _cell(cell if isinstance(cell, dict) else {}, g)
        except (ValueError, UnicodeDecodeError) as e:
            answer = {"ok": False, "error": {"type": "RequestError", "message": str(e)}}
        write_frame(3, dumps(answer).encode("utf-8", "surrogatepass"))
