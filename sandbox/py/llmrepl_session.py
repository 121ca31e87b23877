"""llmrepl_session.py - one cell of a REPL session (request mode "session").

  {"mode": "session", "cells": ["...", ...], "code": "...", "timeout_s": N,
   "value_max": N}

The session's earlier cells are replayed first, in order, in one globals
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


def run(req, dumps, write_answer):
    import signal
    import time
    import traceback
    cells = req.get("cells") or []
    code = req.get("code")
    if not isinstance(code, str) or not isinstance(cells, list):
        write_answer(dumps({"ok": False, "error": {
            "type": "RequestError", "message": "the request has no code"}}))
        return 2
    value_max = int(req.get("value_max") or 4096)
    timeout_s = float(req.get("timeout_s") or 0)
    main = type(sys)("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    g = main.__dict__
    sys.path.insert(0, "/work")
    real = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = _Sink()
    replay_errors = 0
    for i, c in enumerate(cells):
        try:
            has, value = _run_cell(str(c), "<cell %d>" % (i + 1), g)
            if has and value is not None:
                g["_"] = value
        except BaseException:
            replay_errors += 1
    sys.stdout, sys.stderr = real
    name = "<cell %d>" % (len(cells) + 1)
    answer = {"ok": True, "replayed": len(cells), "replay_errors": replay_errors}
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
        frames = [f for f in traceback.extract_tb(e.__traceback__)
                  if f.filename.startswith("<cell ")]
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
    sys.stdout.flush()
    write_answer(dumps(answer))
    return 0
