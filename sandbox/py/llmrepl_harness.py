"""llmrepl_harness - evaluate candidate code inside the sandbox.

The sandbox's entry calls evaluate(request) and writes the returned dict as the
one JSON answer on its answer descriptor. Request (from the C side, worker/eval.c):

  {"mode": "evaluate", "code": str, "tests": str|null, "entry_point": str|null,
   "static": bool, "doctests": "auto"|"always"|"never", "stdin": str,
   "budget_s": float,       # the harness must answer within this
   "test_timeout_s": float, # per test case (and per setup statement)
   "max_output": int,       # characters of stdout and of stderr kept
   "max_code_bytes": int, "module": "solution",
   "isolate": bool,         # each test's process can be killed (see below)
   "split": bool,           # run the code in the candidate factory's process
   "group": bool,           # one item of a group (llmrepl_group): never in process
   "candidate_limits": [cpu_s, memory_mb, procs, file_size_mb, files],
   "final_mark": bool,      # the entry marks its answer final when nothing after
                            # it can change the outcome (llmrepl_sbx._answer_final)
   "session_cells": [str, ...]|null}  # a REPL session's recorded cells: they run
                            # first, in the code's globals (on the code's side of
                            # a split), as the session ran them (output discarded,
                            # errors ignored); the static checks know their names

What happens, in order: the code and tests are checked (empty, too big, syntax
errors) and planned (llmrepl_plan); the static tools run (llmrepl_static); the
code and its tests run (llmrepl_runner), each test under its own timer.

Two ways to run the code. By default in this process: the sandbox's request
child is a throwaway fork already, so this is the cheapest; a test that hangs
in Python is interrupted and the others still run. What cannot be handled in
process (a crash, os._exit, the memory limit's kill, a test that swallows its
interruption past the grace period: the process then exits with HARD_EXIT)
leaves no answer, and the caller asks again with "isolate": true. Isolated,
the code runs in a forked child this process supervises: a step that crashes
or cannot be stopped costs that step (the child is killed and another one
continues with the next step), and the report is complete.

Split (the sandbox started a candidate factory, fd 10, and the request says
"split": true): the code runs in a worker of that factory, under another uid,
and this process only runs the tests against proxies (llmrepl_judge); a crash
or a hang costs one step, and "isolate" makes no difference. Asked to split,
this process never runs the code itself: when the tests cannot run apart from
it (_unsplittable) or there is no factory, the answer is "unsplittable" (in a
group, "ungroupable") and nothing of the code's has run; the host evaluates
again without split, and so knows that run is in process whatever the answer
it gets says (the code could write all of it there).

Called directly (not in a sandbox), use "isolate": true: in-process runs leave
whatever the code changed (builtins, modules) in the calling interpreter.
"""
import ast
import gc
import json
import mmap
import os
import select
import signal
import struct
import sys
import threading
import time

import llmrepl_ahead
import llmrepl_judge
import llmrepl_plan
import llmrepl_runner
import llmrepl_session
import llmrepl_static

HARNESS_VERSION = 1
DEFAULTS = {"budget_s": 10.0, "test_timeout_s": 3.0, "max_output": 65536,
            "max_code_bytes": 1 << 20, "static_budget_s": 5.0}
GRACE_S = 0.5  # after a step's deadline, before its child is killed
RESTARTS_MAX = 16
HARD_EXIT = 75  # the in-process run gave up on a step it could not stop
PIPE_MAX = 16 << 20  # bytes the parent accepts from one child
STEP_DETAIL_MAX = 2000  # cases reported one by one; the rest are counted

for _m in (llmrepl_plan, llmrepl_runner, llmrepl_static, llmrepl_judge, llmrepl_judge.wire,
           sys.modules[__name__]):
    llmrepl_runner.HARNESS_FILES.add(_m.__file__)


class BadRequest(Exception):
    pass


def _split(o):
    """Whether the code runs in the candidate's process: asked for, and the
    sandbox started a factory (looked at once per evaluation, before any
    test runs)."""
    if "factory" not in o:
        o["factory"] = llmrepl_judge.available()
    return o["split"] and o["factory"]


def _opt(req, key, kind, default):
    v = req.get(key, default)
    if v is None:
        return default
    if kind is float and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if not isinstance(v, kind) or isinstance(v, bool) and kind is not bool:
        raise BadRequest("request field %r must be %s" % (key, kind.__name__))
    return v


def _options(req):
    if not isinstance(req, dict):
        raise BadRequest("the request is not an object")
    code = req.get("code")
    if not isinstance(code, str):
        raise BadRequest("request field 'code' must be a string")
    tests = req.get("tests")
    if tests is not None and not isinstance(tests, str):
        raise BadRequest("request field 'tests' must be a string or null")
    entry = req.get("entry_point")
    if entry is not None and (not isinstance(entry, str) or not entry.isidentifier()):
        raise BadRequest("request field 'entry_point' must be a Python identifier")
    o = {"code": code, "tests": tests if tests and tests.strip() else None,
         "entry_point": entry or None,
         "static": _opt(req, "static", bool, True),
         "doctests": _opt(req, "doctests", str, "auto"),
         "stdin": _opt(req, "stdin", str, ""),
         "budget_s": _opt(req, "budget_s", float, DEFAULTS["budget_s"]),
         "test_timeout_s": _opt(req, "test_timeout_s", float, DEFAULTS["test_timeout_s"]),
         "max_output": _opt(req, "max_output", int, DEFAULTS["max_output"]),
         "max_code_bytes": _opt(req, "max_code_bytes", int, DEFAULTS["max_code_bytes"]),
         "module": _opt(req, "module", str, "solution"),
         "isolate": _opt(req, "isolate", bool, False),
         "split": _opt(req, "split", bool, False),
         "group": _opt(req, "group", bool, False),
         "candidate_limits": req.get("candidate_limits"),
         "session_cells": req.get("session_cells") or None,
         "grace_s": GRACE_S,
         # The tests already parsed (llmrepl_group, in process only).
         "tests_tree": req.get("tests_tree") if isinstance(req.get("tests_tree"), ast.Module)
         else None}
    cells = o["session_cells"]
    if cells is not None and not (isinstance(cells, list) and all(
            isinstance(c, str) for c in cells)):
        raise BadRequest("request field 'session_cells' must be a list of strings")
    lim = o["candidate_limits"]
    if lim is not None and not (isinstance(lim, list) and len(lim) == 5 and all(
            type(x) is int and 0 < x < (1 << 31) for x in lim)):
        raise BadRequest("request field 'candidate_limits' must be 5 positive integers")
    if o["doctests"] not in ("auto", "always", "never"):
        raise BadRequest("request field 'doctests' must be auto, always or never")
    if not o["module"].isidentifier():
        raise BadRequest("request field 'module' must be a Python identifier")
    for k in ("budget_s", "test_timeout_s"):
        if not (0 < o[k] <= 86400):
            raise BadRequest("request field %r must be in (0, 86400]" % k)
    o["max_output"] = max(0, min(o["max_output"], 16 << 20))
    return o


def _syntax_error(e, file):
    err = {"type": type(e).__name__, "message": llmrepl_runner.clean(e.msg or str(e), 500),
           "file": file, "line": e.lineno}
    if e.offset:
        err["col"] = e.offset
    if e.text:
        err["code"] = llmrepl_runner.clean(e.text.rstrip("\n").strip(), 200)
    if getattr(e, "end_lineno", None):
        err["end_line"] = e.end_lineno
    return err


def _parse(source, file):
    """Returns (tree, None) or (None, error dict)."""
    try:
        return ast.parse(source, "<%s>" % file), None
    except SyntaxError as e:
        return None, _syntax_error(e, file)
    except ValueError as e:  # NUL bytes
        return None, {"type": "SyntaxError", "message": llmrepl_runner.clean(e, 300),
                      "file": file, "line": None}
    except (RecursionError, MemoryError) as e:
        return None, {"type": type(e).__name__, "file": file, "line": None,
                      "message": "the %s is nested too deeply to parse" % file}


def _unsplittable(tree, tests):
    """Why these tests cannot run apart from the code, or None: a class of
    the tests' that derives from a class the code defines needs the code's
    class object in the judge's process (a proxy cannot be a base class)."""
    if not tests or "class" not in tests:
        return None
    mine = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    if not mine:
        return None
    try:
        tests_tree = ast.parse(tests)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in ast.walk(tests_tree):
        if isinstance(node, ast.ClassDef):
            for b in node.bases:
                if isinstance(b, ast.Name) and b.id in mine:
                    return ("the tests' class %s derives from the code's class %s, which only "
                            "works in the code's own process: the tests ran there "
                            "(integrity in_process)" % (node.name, b.id))
    return None


def _base(o):
    code = o["code"]
    return {"harness": HARNESS_VERSION, "status": "ok", "error": None, "forms": [],
            "integrity": "in_process",
            "entry_point": o["entry_point"], "tests": [], "tests_total": 0, "tests_passed": 0,
            "tests_omitted": 0, "stdout": "", "stderr": "", "stdout_truncated": False,
            "stderr_truncated": False, "static": None,
            "metrics": {"code_bytes": len(code.encode("utf-8", "replace")),
                        "code_lines": code.count("\n") + (0 if code.endswith("\n") else 1)
                        if code else 0},
            "restarts": 0, "notes": []}


def evaluate(req):
    # The collector stays off while the harness works (it would walk, and so
    # copy, the pages this process shares with the interpreter it was forked
    # from); the code under test runs with it on.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _evaluate_request(req)
    finally:
        if collecting:
            gc.enable()


def _evaluate_request(req):
    t0 = time.perf_counter()
    try:
        o = _options(req)
    except BadRequest as e:
        return {"harness": HARNESS_VERSION, "status": "bad_request", "error": {
            "type": "BadRequest", "message": str(e)}, "tests": [], "tests_total": 0,
            "tests_passed": 0}
    ans = _base(o)
    o["deadline"] = time.monotonic() + o["budget_s"]
    try:
        _evaluate(o, ans)
    finally:
        ans["metrics"]["harness_s"] = round(time.perf_counter() - t0, 6)
    return ans


def _evaluate(o, ans):
    code = o["code"]
    size = ans["metrics"]["code_bytes"]
    if size > o["max_code_bytes"]:
        ans["status"] = "too_big"
        ans["error"] = {"type": "TooBig", "message": "the code is %d bytes, over the limit of %d"
                        % (size, o["max_code_bytes"])}
        return
    if not code.strip():
        ans["status"] = "empty"
        ans["error"] = {"type": "Empty", "message": "the code is empty"}
        return
    tree, err = _parse(code, "solution")
    if err is not None:
        ans["status"] = "syntax_error"
        ans["error"] = err
        return
    if not tree.body:
        ans["status"] = "empty"
        ans["error"] = {"type": "Empty", "message": "the code has no statements "
                        "(only comments or blank lines)"}
        return
    why = _unsplittable(tree, o["tests"])
    if (o["split"] or o["group"]) and (why is not None or not _split(o)):
        # Asked to split, the code would run in this process: it never does
        # (it could write a whole report there, "split" in it). Nothing has
        # run; the host evaluates again without split, knowing the run is
        # in_process whatever its answer says.
        ans["status"] = "ungroupable" if o["group"] else "unsplittable"
        ans["notes"].append(why or "the sandbox has no candidate factory")
        return
    if why is not None:
        # Said in the report (integrity in_process, and why); a job that
        # requires "split" fails on it.
        ans["notes"].append(why)
    if _split(o):
        # The candidate's worker starts and loads the code while the tests
        # are parsed and planned here (and the static checks run, when the
        # host left them to the judge).
        o["remote"] = _prestart(o)
        llmrepl_judge.mark("h.prestart")
    tests = o["tests"]
    tests_tree = row = None
    if tests is not None:
        if len(tests.encode("utf-8", "replace")) > o["max_code_bytes"]:
            ans["status"] = "bad_tests"
            ans["error"] = {"type": "TooBig", "file": "tests",
                            "message": "the tests are over the limit of %d bytes"
                            % o["max_code_bytes"]}
            return
        if not llmrepl_plan.is_transcript(tests):
            tests_tree, err = o["tests_tree"], None
            if tests_tree is None:
                tests_tree, err = _parse(tests, "tests")
            if err is not None:
                ans["status"] = "bad_tests"
                err["message"] = "the tests do not parse: " + err["message"]
                ans["error"] = err
                return
            row = _send_early(o, tree, tests_tree, tests)
    try:
        plan = llmrepl_plan.build(tree, code, tests, o["entry_point"], o["doctests"],
                                  tests_tree, row)
    except llmrepl_plan.CodeError as e:
        ans["status"] = "syntax_error"
        ans["error"] = _syntax_error(e.error, "solution")
        return
    except llmrepl_plan.PlanError as e:
        ans["status"] = "bad_tests"
        ans["error"] = {"type": "BadTests", "file": "tests", "message": str(e)}
        return
    except (RecursionError, MemoryError, SyntaxError, ValueError) as e:
        ans["status"] = "bad_tests"
        ans["error"] = {"type": type(e).__name__, "file": "tests",
                        "message": "the tests could not be prepared: %s" %
                        llmrepl_runner.clean(e, 300)}
        return
    llmrepl_judge.mark("h.plan")
    ans["forms"] = plan.forms
    ans["entry_point"] = plan.entry_point
    if plan.entry_inferred:
        ans["notes"].append("no entry point was given; the tests' check() was called with "
                            "%s, the only function the code defines" % plan.entry_point)
    side = None
    if o["static"]:
        def side():
            t = time.perf_counter()
            ans["static"] = _static(code, tree, o)
            ans["metrics"]["static_s"] = round(time.perf_counter() - t, 6)
    _supervise(plan, o, ans, side)


def _send_early(o, tree, tests_tree, tests):
    """check()'s row of calls to the worker right behind the code, when the
    tests cannot reach the code before check() (llmrepl_ahead.early): the
    worker runs it while this process plans the tests. Returns the row (the
    plan's own, found once), or None."""
    rem = o.get("remote")
    if rem is None or not o["entry_point"] or o["session_cells"]:
        return None
    try:
        row = llmrepl_ahead.early(tests_tree, tree, o["module"], len(tests))
    except (RecursionError, MemoryError):
        return None
    if row:
        rem.send_early(o["entry_point"], row, min(o["test_timeout_s"],
                                                  o["deadline"] - time.monotonic()))
    return row


def _static(code, tree, o):
    cells = o.get("session_cells")
    llmrepl_static.KNOWN_NAMES = frozenset(
        llmrepl_session.defined_names(cells) if cells else ())
    budget = min(DEFAULTS["static_budget_s"], max(0.2, (o["deadline"] - time.monotonic()) / 3))
    return llmrepl_static.run_all_within(code, tree, budget)


# ---- supervision ------------------------------------------------------------

class _Child:
    def __init__(self, pid, rfd):
        self.pid = pid
        self.rfd = rfd
        self.buf = b""
        self.got = 0
        self.end = None
        self.eof = False


def _supervise(plan, o, ans, side=None):
    """Run the code's child (again after each crash) until its steps are
    decided. `side` (the static checks) runs here while the first child runs:
    the two use different cores when there are two."""
    results = {}  # step -> result record
    fatal = set()
    out, err = [], []
    dropped = [0, 0]
    end = None
    restarts = 0
    t_run = time.perf_counter()
    if _split(o):
        _run_here(plan, o, ans, side, split=True)
        return
    if o["split"]:
        raise RuntimeError("the code never runs in the judge's process of a split run")
    # In process: nothing of the split's stays within the code's reach.
    llmrepl_judge.close_fds()
    if not o["isolate"]:
        _run_here(plan, o, ans, side)
        return
    shm = mmap.mmap(-1, mmap.PAGESIZE)
    cpu = 0.0
    peak = 0
    load_s = tests_s = 0.0
    try:
        while True:
            skip = set(results) | fatal
            outcome, ru = _one_child(plan, o, shm, skip, fatal, results, out, err, side)
            side = None
            if ru is not None:
                cpu += ru.ru_utime + ru.ru_stime
            if outcome["end"] is not None:
                end = outcome["end"]
                peak = max(peak, end.get("rss_peak_kb", 0) - end.get("rss_start_kb", 0))
                load_s += end.get("load_s", 0.0)
                tests_s += end.get("tests_s", 0.0)
                dropped[0] += end.get("stdout_dropped", 0)
                dropped[1] += end.get("stderr_dropped", 0)
                break
            k = outcome["step"]
            if ru is not None and outcome.get("rss_start_kb"):
                peak = max(peak, ru.ru_maxrss - outcome["rss_start_kb"])
            if k is None or k < 0 or k >= len(plan.steps):
                ans["notes"].append("the code's process ended outside any test: %s"
                                    % outcome["why"]["message"])
                ans["error"] = ans["error"] or outcome["why"]
                ans["status"] = "crashed"
                break
            fatal.add(k)
            prev = results.get(k)
            if prev is None or prev.get("status") == "passed":
                results[k] = {"k": k, "status": outcome["status"], "runs": 1,
                              "duration_s": outcome["duration_s"], "error": outcome["why"]}
            if k == plan.load_step:
                break
            if time.monotonic() >= o["deadline"] - 0.05 or restarts >= RESTARTS_MAX:
                ans["notes"].append("stopped after %d restarts of the code's process"
                                    % restarts if restarts >= RESTARTS_MAX else
                                    "the time budget was spent")
                break
            restarts += 1
    finally:
        shm.close()
    ans["restarts"] = restarts
    m = ans["metrics"]
    m["wall_s"] = round(time.perf_counter() - t_run, 6)
    m["cpu_s"] = round(cpu, 6)
    m["peak_memory_kb"] = max(0, int(peak))
    m["load_s"] = round(load_s, 6)
    m["tests_s"] = round(tests_s, 6)
    _streams(ans, o, out, err, dropped)
    ans["isolated"] = True
    _assemble(plan, o, ans, results, end is not None)


def _run_here(plan, o, ans, side, split=False):
    """The fast path: the code runs in this process (the sandbox's throwaway
    request child), after the static checks, which it could disturb. A step
    that cannot be stopped ends the process with HARD_EXIT, and a crash ends
    it anyway: either way there is no answer, and the caller evaluates again
    with isolate=true.

    Split: the code runs in the candidate's process (llmrepl_judge) and only
    the tests run here, so nothing the code does reaches this process; a
    crash or a hang costs the step (the candidate is restarted)."""
    remote = None
    if split:
        rem = o.pop("remote", None) or _prestart(o)

        def remote(runner):
            rem.timeout_fn = runner.remaining
            return rem
    if side is not None:
        side()
    t = time.perf_counter()
    results, out, err = {}, [], []
    ch = _Child(-1, -1)
    before = set(threading.enumerate())
    for rec in llmrepl_runner.run_inline(plan, o, set(), hard_exit=None if split else HARD_EXIT,
                                         remote=remote):
        _take(ch, rec, results, out, err)
    llmrepl_judge.mark("h.tests")
    left = [th for th in threading.enumerate() if th not in before and th.is_alive()]
    if left:
        # Threads the code started and left running: the process ends without
        # joining them (it would wait for ever on one that never returns).
        ans["notes"].append("the code left %d thread(s) running; they were abandoned"
                            % len(left))
        threading._shutdown = lambda: None
    end = ch.end or {}
    m = ans["metrics"]
    m["wall_s"] = round(time.perf_counter() - t, 6)
    m["cpu_s"] = round(end.get("cpu_s", 0.0), 6)
    m["peak_memory_kb"] = max(0, int(end.get("rss_peak_kb", 0) - end.get("rss_start_kb", 0)))
    m["load_s"] = round(end.get("load_s", 0.0), 6)
    m["tests_s"] = round(end.get("tests_s", 0.0), 6)
    _streams(ans, o, out, err, [end.get("stdout_dropped", 0), end.get("stderr_dropped", 0)])
    ans["isolated"] = False
    if split:
        ans["integrity"] = "split"
    _assemble(plan, o, ans, results, True)
    llmrepl_judge.mark("h.assemble")


# The judge's side of the candidate's process (llmrepl_prefault's rehearsal
# swaps in its own, with no process behind it).
REMOTE = llmrepl_judge.Remote


def _prestart(o):
    rem = REMOTE(o, lambda: max(0.001, o["deadline"] - time.monotonic()),
                 tuple(o["candidate_limits"] or ()) or None)
    rem.prestart()
    return rem


def _streams(ans, o, out, err, dropped):
    so, se = "".join(out), "".join(err)
    ans["stdout"] = so[: o["max_output"]]
    ans["stderr"] = se[: o["max_output"]]
    ans["stdout_truncated"] = dropped[0] > 0 or len(so) > o["max_output"]
    ans["stderr_truncated"] = dropped[1] > 0 or len(se) > o["max_output"]


def _one_child(plan, o, shm, skip, fatal, results, out, err, side=None):
    """Run one child until it ends or is killed. Returns (outcome, rusage)."""
    struct.pack_into(llmrepl_runner.SHM_FMT, shm, 0, -1, 0.0)
    try:
        rfd, wfd = os.pipe()
    except OSError as e:
        return _inline(plan, o, skip, results, out, err, e, side)
    try:
        pid = os.fork()
    except OSError as e:
        os.close(rfd)
        os.close(wfd)
        return _inline(plan, o, skip, results, out, err, e, side)
    if pid == 0:
        os.close(rfd)
        llmrepl_runner.child_main(plan, o, wfd, shm, skip, fatal)  # never returns
    os.close(wfd)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    rss_start = _rss_kb()
    if side is not None:
        side()
    ch = _Child(pid, rfd)
    outcome = {"end": None, "step": None, "status": None, "why": None, "duration_s": 0.0,
               "rss_start_kb": rss_start}
    status = ru = None
    killed = None
    step_seen = (-1, 0.0, time.monotonic())
    poller = select.poll()
    poller.register(rfd, select.POLLIN | select.POLLHUP | select.POLLERR)
    try:
        while not ch.eof and ch.end is None:
            k, deadline = struct.unpack_from(llmrepl_runner.SHM_FMT, shm, 0)
            now = time.monotonic()
            if k != step_seen[0] or deadline != step_seen[1]:
                step_seen = (k, deadline, now)
            limit = o["deadline"] if k < 0 else min(deadline + GRACE_S, o["deadline"])
            if now >= limit:
                killed = (k, step_seen[2])
                break
            wait = min(limit - now, 0.05)
            events = poller.poll(max(1, int(wait * 1000)))
            if events:
                _read(ch, results, out, err, o)
            else:
                done = os.waitpid(pid, os.WNOHANG)
                if done[0] == pid:
                    status = done[1]
                    _drain(ch, results, out, err, o)
                    break
    finally:
        if ch.end is None and status is None:
            _kill(pid)
        elif ch.end is not None:
            _kill_group(pid)  # stragglers the code may have started
        if status is None:
            _, status, ru = os.wait4(pid, 0)
        else:
            ru = None
        os.close(rfd)
    outcome["end"] = ch.end
    if ch.end is not None:
        return outcome, ru
    if killed is not None:
        k, since = killed
        outcome["step"] = k
        outcome["status"] = "timeout"
        outcome["duration_s"] = round(time.monotonic() - since, 6)
        budget = k >= 0 and plan.steps[k]["container"]
        outcome["why"] = {"type": "Timeout", "message": (
            "did not finish within %s and did not stop when interrupted; its process was "
            "killed" % ("the time budget" if budget or k < 0 else
                        "its %.3g s limit" % o["test_timeout_s"]))}
        return outcome, ru
    k, _ = struct.unpack_from(llmrepl_runner.SHM_FMT, shm, 0)
    outcome["step"] = k
    outcome["duration_s"] = round(time.monotonic() - step_seen[2], 6) if k >= 0 else 0.0
    outcome["status"], outcome["why"] = _death(status)
    return outcome, ru


def _rss_kb():
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * (mmap.PAGESIZE // 1024)
    except (OSError, ValueError, IndexError):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _death(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "signal %d" % sig
        if sig == signal.SIGKILL:
            return "memory", {"type": "MemoryLimit", "signal": sig, "message":
                              "the process was killed (SIGKILL), most likely by the memory "
                              "limit"}
        if sig == signal.SIGXCPU:
            return "timeout", {"type": "Timeout", "signal": sig,
                               "message": "the CPU time limit was reached (SIGXCPU)"}
        if sig == signal.SIGSEGV:
            return "crashed", {"type": "Crash", "signal": sig, "message":
                               "the interpreter crashed (SIGSEGV), often a recursion "
                               "deeper than the C stack after sys.setrecursionlimit()"}
        return "crashed", {"type": "Crash", "signal": sig,
                           "message": "the process was killed by %s" % name}
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    return "crashed", {"type": "Exit", "exit_code": code,
                       "message": "the code ended the process (os._exit(%d) or similar)"
                       % code}


def _kill(pid):
    for target in (-pid, pid):
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass


def _kill_group(pid):
    try:
        os.kill(-pid, signal.SIGKILL)
    except OSError:
        pass


def _read(ch, results, out, err, o):
    try:
        data = os.read(ch.rfd, 1 << 16)
    except OSError:
        data = b""
    if not data:
        ch.eof = True
        return
    ch.got += len(data)
    if ch.got > PIPE_MAX:
        ch.eof = True
        return
    ch.buf += data
    while b"\n" in ch.buf:
        line, ch.buf = ch.buf.split(b"\n", 1)
        _record(ch, line, results, out, err, o)


def _drain(ch, results, out, err, o):
    while not ch.eof and ch.end is None:
        r, _, _ = select.select([ch.rfd], [], [], 0)
        if not r:
            break
        _read(ch, results, out, err, o)


def _record(ch, line, results, out, err, o):
    try:
        rec = json.loads(line)
    except ValueError:
        return
    if isinstance(rec, dict):
        _take(ch, rec, results, out, err)


def _take(ch, rec, results, out, err):
    t = rec.get("t")
    if t == "step" and isinstance(rec.get("k"), int):
        rec.pop("t", None)
        results[rec["k"]] = rec
    elif t == "out":
        if isinstance(rec.get("o"), str):
            out.append(rec["o"])
        if isinstance(rec.get("e"), str):
            err.append(rec["e"])
    elif t == "end":
        ch.end = rec


def _inline(plan, o, skip, results, out, err, why, side=None):
    if side is not None:
        side()
    ch = _Child(-1, -1)
    for rec in llmrepl_runner.run_inline(plan, o, skip):
        _take(ch, rec, results, out, err)
    return {"end": ch.end or {}, "step": None, "status": None, "why": None,
            "duration_s": 0.0, "inline": "no child process (%s)" % why}, None


# ---- the answer -------------------------------------------------------------

def _assemble(plan, o, ans, results, finished):
    load = results.get(plan.load_step)
    if load is not None and load.get("status") != "passed":
        st = load.get("status")
        ans["status"] = {"timeout": "load_timeout", "memory": "memory",
                         "crashed": "crashed"}.get(st, "load_error")
        ans["error"] = load.get("error")
    cases = []
    for s in plan.steps:
        k = s["i"]
        if k == plan.load_step:
            continue
        r = results.get(k)
        if r is None:
            if not s["counted"]:
                continue
            parent = s["parent"]
            if parent is not None:
                pr = results.get(parent)
                ran_ok = pr is None or pr.get("status") == "passed"
                status = "skipped" if (finished and ran_ok) else "not_run"
            else:
                status = "skipped" if finished and (load is None or load.get(
                    "status") == "passed") else "not_run"
            r = {"status": status, "runs": 0, "duration_s": 0.0}
        elif not s["counted"] and r.get("status") == "passed":
            continue
        case = {"name": s["name"], "kind": s["kind"], "line": s["line"], "file": s["file"],
                "status": r.get("status"), "passed": r.get("status") == "passed",
                "duration_s": round(float(r.get("duration_s") or 0.0), 6),
                "runs": r.get("runs", 0)}
        for key in ("error", "assertion", "stdout"):
            if r.get(key) is not None:
                case[key] = r[key]
        if case["status"] == "not_run" and "error" not in case:
            if s["parent"] is not None:
                why = "%s stopped before reaching it" % plan.steps[s["parent"]]["name"]
            else:
                why = "the run stopped before it"
            case["error"] = {"type": "NotRun", "message": "not run: %s" % why}
        cases.append(case)
    counted = [c for c in cases if c["status"] != "skipped"]
    ans["tests_total"] = len(counted)
    ans["tests_passed"] = sum(1 for c in counted if c["passed"])
    ans["tests_skipped"] = len(cases) - len(counted)
    if len(cases) > STEP_DETAIL_MAX:
        failing = [c for c in cases if not c["passed"]]
        keep = failing[:STEP_DETAIL_MAX]
        keep += [c for c in cases if c["passed"]][: STEP_DETAIL_MAX - len(keep)]
        ans["tests_omitted"] = len(cases) - len(keep)
        cases = sorted(keep, key=lambda c: (c["file"], c["line"]))
    ans["tests"] = cases
    if ans["status"] == "ok" and ans["tests_passed"] < ans["tests_total"]:
        ans["status"] = "tests_failed"


# What a pre-forked interpreter has imported so far stays out of the
# collector's way in every fork: a full collection in a request would
# otherwise touch, and copy, every page of it.
gc.freeze()
