"""llmrepl_io - the judge's steps of the io test form that need Python.

The program under test never runs here: each io case runs it on its own
(mode "exec" with the case's stdin), and the host compares its output. Two
requests come to this module, each in a sandbox run of its own:

  {"mode": "io_prepare", "code": str, "static": bool, "max_code_bytes": int}
      Is the program runnable at all (not empty, not too big, parses), and
      what the static tools say of it. Nothing of the code runs.
      -> {"status": "ok"|"empty"|"too_big"|"syntax_error", "error": {...}|None,
          "static": {...}|None, "metrics": {"code_bytes", "code_lines", "static_s"}}

  {"mode": "io_check", "code": str, "stdin": str, "expected": str, "actual": str}
      The job's python checker: its check(stdin, expected, actual) decides
      one case. The program's output arrives here as data only.
      -> {"ok": True, "passed": bool, "message": str|None}
       | {"ok": False, "error": {"type", "message", "line"}}   (it raised)
"""
import ast
import builtins
import time

try:  # imported (and warmed) once, in the pool's server
    import llmrepl_static
except Exception as e:  # noqa: BLE001 - reported per request
    llmrepl_static = None
    _STATIC_ERR = e
else:
    _STATIC_ERR = None

STATIC_BUDGET_S = 5.0
MESSAGE_MAX = 500


def _clip(s, n=MESSAGE_MAX):
    s = str(s)
    return s if len(s) <= n else s[:n - 3] + "..."


def _syntax_error(e):
    err = {"type": type(e).__name__, "message": _clip(e.msg or e), "file": "solution",
           "line": e.lineno}
    if e.offset:
        err["col"] = e.offset
    if e.text:
        err["code"] = _clip(e.text.rstrip("\n").strip(), 200)
    return err


def _static(code, tree):
    if _STATIC_ERR is not None:
        return {"skipped": "the static tools are missing: %s" % _clip(_STATIC_ERR, 200)}
    return llmrepl_static.run_all_within(code, tree, STATIC_BUDGET_S)


def prepare(req):
    code = req.get("code")
    if not isinstance(code, str):
        code = ""
    size = len(code.encode("utf-8", "surrogatepass"))
    ans = {"status": "ok", "error": None, "static": None,
           "metrics": {"code_bytes": size,
                       "code_lines": code.count("\n") + (0 if code.endswith("\n") else 1)
                       if code else 0}}
    limit = req.get("max_code_bytes") or (1 << 20)
    if size > limit:
        ans["status"] = "too_big"
        ans["error"] = {"type": "TooBig", "message": "the code is %d bytes, over the limit "
                        "of %d" % (size, limit)}
        return ans
    if not code.strip():
        ans["status"] = "empty"
        ans["error"] = {"type": "Empty", "message": "the code is empty"}
        return ans
    try:
        tree = ast.parse(code, "<solution>")
    except SyntaxError as e:
        ans["status"] = "syntax_error"
        ans["error"] = _syntax_error(e)
        return ans
    except (ValueError, RecursionError, MemoryError) as e:
        ans["status"] = "syntax_error"
        ans["error"] = {"type": "SyntaxError", "file": "solution", "line": None,
                        "message": _clip(e, 300)}
        return ans
    if not tree.body:
        ans["status"] = "empty"
        ans["error"] = {"type": "Empty", "message": "the code has no statements "
                        "(only comments or blank lines)"}
        return ans
    if req.get("static", True):
        t = time.perf_counter()
        ans["static"] = _static(code, tree)
        ans["metrics"]["static_s"] = round(time.perf_counter() - t, 6)
    return ans


def _checker_line(tb):
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<checker>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def check(req):
    code = req.get("code")
    args = [req.get(k) for k in ("stdin", "expected", "actual")]
    if not isinstance(code, str) or not all(isinstance(a, str) for a in args):
        return {"ok": False, "error": {"type": "RequestError",
                                       "message": "the check request is incomplete"}}
    ns = {"__name__": "checker", "__builtins__": builtins}
    try:
        exec(compile(code, "<checker>", "exec", dont_inherit=True), ns)
        fn = ns.get("check")
        if not callable(fn):
            raise NameError("the checker defines no function check(stdin, expected, actual)")
        result = fn(*args)
        message = None
        if isinstance(result, tuple) and len(result) == 2:
            result, message = result
        passed = bool(result)
    except BaseException as e:  # noqa: BLE001 - the checker's failure is the case's
        if isinstance(e, (KeyboardInterrupt,)):
            raise
        line = e.lineno if isinstance(e, SyntaxError) else _checker_line(e.__traceback__)
        return {"ok": False, "error": {"type": type(e).__name__, "message": _clip(e),
                                       "line": line}}
    return {"ok": True, "passed": passed,
            "message": None if message is None else _clip(message)}


def handle(req):
    if req.get("mode") == "io_prepare":
        return prepare(req)
    return check(req)

