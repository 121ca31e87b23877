"""llmrepl_runner - the child that runs the code under test and its tests.

The harness forks this child for the code so that a crash, an os._exit(), the
memory limit or a test that cannot be interrupted costs one test, not the
report: the supervising parent sees which step was running (a shared page),
kills the child when that step overstays, and starts another child that skips
what is already decided. Results travel to the parent as JSON lines on a pipe.

Each step (loading the code, each assert, test function, doctest example...)
runs under its own timer: SIGALRM raises StepTimeout (a BaseException, so
`except Exception` in the code does not swallow it) and is raised again every
0.1 s if the code swallows it anyway; the parent's kill is the backstop.
"""
import difflib
import doctest
import gc
import inspect
import io
import itertools
import json
import operator
import os
import reprlib
import resource
import signal
import struct
import sys
import time
import types
import unittest

HARNESS_FILES = set()  # co_filename of the harness's own modules (filled by the harness)
HARNESS_FILES.add(__file__)
SHM_FMT = "<qd"  # current step (-1 = none), its deadline (monotonic)
REPEAT_S = 0.1
STEP_OUT_MAX = 2000
FRAMES_MAX = 12


class StepTimeout(BaseException):
    """Raised in the code under test when its step's time is up."""


class EntryPointError(Exception):
    pass


class FixtureError(Exception):
    pass


_COMPARE = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "is": lambda a, b: a is b, "is not": lambda a, b: a is not b,
    "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
}


class _NoValue:
    def __repr__(self):
        return "<no value>"


NOVALUE = _NoValue()


class _Repr(reprlib.Repr):
    def __init__(self):
        super().__init__()
        self.maxstring = 160
        self.maxother = 160
        self.maxlong = 120
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = 16
        self.maxdeque = self.maxarray = 16
        self.maxdict = 10
        self.maxlevel = 4

    def repr_instance(self, x, level):
        try:
            s = repr(x)
        except BaseException as e:  # noqa: BLE001 - any __repr__ may fail
            return "<%s object (repr failed: %s)>" % (type(x).__name__, type(e).__name__)
        if len(s) > self.maxother:
            half = (self.maxother - 3) // 2
            s = s[:half] + "..." + s[len(s) - half:]
        return s


_REPR = _Repr()


def safe_repr(x, limit=400):
    try:
        s = _REPR.repr(x)
    except BaseException as e:  # noqa: BLE001
        s = "<%s object (repr failed: %s)>" % (type(x).__name__, type(e).__name__)
    return clean(s, limit)


def clean(s, limit=None):
    """Text safe for JSON (no lone surrogates), optionally shortened."""
    if not isinstance(s, str):
        s = str(s)
    if limit is not None and len(s) > limit:
        s = s[: limit - 3] + "..."
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "replace").decode("utf-8")
    return s


class Capture(io.TextIOBase):
    """sys.stdout / sys.stderr for the code: kept in memory up to a cap, so a
    flood of prints costs the test that makes it, not the whole report."""

    def __init__(self, cap, name):
        super().__init__()
        self.cap = cap
        self.parts = []
        self.size = 0
        self.dropped = 0
        self.sent = 0  # parts already forwarded to the parent
        self.name = name
        self.buffer = _BinCapture(self)

    @property
    def encoding(self):
        return "utf-8"

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        n = len(s)
        room = self.cap - self.size
        if n > room:
            self.dropped += n - max(room, 0)
            s = s[: max(room, 0)]
        if s:
            self.parts.append(s)
            self.size += len(s)
        return n

    def flush(self):
        pass

    def position(self):
        return self.size

    def text_since(self, pos, limit):
        text = "".join(self.parts)[pos:]
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def delta(self):
        if self.sent == len(self.parts):
            return ""
        text = "".join(self.parts[self.sent:])
        self.sent = len(self.parts)
        return text


class _BinCapture:
    def __init__(self, text):
        self.text = text

    def write(self, b):
        self.text.write(bytes(b).decode("utf-8", "replace"))
        return len(b)

    def flush(self):
        pass


def walk_tb(tb):
    """(file name, line, function) of each entry of tb: what
    traceback.extract_tb gives (sys.tracebacklimit too) without its column
    positions, which Python 3.11 finds by walking the code object's
    positions up to the instruction, each time (~0.35 ms per traceback of a
    HumanEval check(), ~2.4 ms per failing evaluation)."""
    limit = getattr(sys, "tracebacklimit", None)
    if limit is not None:
        limit = max(operator.index(limit), 0)
    out = []
    while tb is not None and (limit is None or len(out) < limit):
        co = tb.tb_frame.f_code
        out.append((co.co_filename, tb.tb_lineno, co.co_name))
        tb = tb.tb_next
    return out


def frames(tb, limit=FRAMES_MAX):
    """The traceback as the code's own files and lines (harness frames left out)."""
    out = []
    total = 0
    try:
        summary = walk_tb(tb)
    except BaseException:  # noqa: BLE001
        return out, 0
    for filename, lineno, name in summary:
        if filename in HARNESS_FILES:
            continue
        total += 1
        if filename == "<solution>":
            f = "solution"
        elif filename == "<tests>":
            f = "tests"
        elif filename.startswith("<doctest "):
            f = "doctest"
        else:
            f = os.path.basename(filename)
        out.append({"file": f, "line": lineno, "function": clean(name, 100)})
    if len(out) > limit:
        out = out[:2] + out[-(limit - 2):]
    return out, total


def describe(exc, sources):
    """An exception as a JSON-ready dict with the code's own line numbers."""
    tb = exc.__traceback__
    fr, total = frames(tb)
    fr, total = _remote_frames(exc, fr, total)
    for f in fr:
        lines = sources.get(f["file"])
        if lines and 0 < (f["line"] or 0) <= len(lines):
            f["code"] = clean(lines[f["line"] - 1].strip(), 200)
    err = {"type": type(exc).__name__, "message": _message(exc)}
    if fr:
        err["traceback"] = fr
        err["frames_total"] = total
        own = [f for f in fr if f["file"] in ("solution", "tests", "doctest")]
        last = own[-1] if own else fr[-1]
        err["file"], err["line"] = last["file"], last["line"]
        if "code" in last:
            err["code"] = last["code"]
        sol = [f for f in fr if f["file"] == "solution"]
        if sol:
            err["solution_line"] = sol[-1]["line"]
    if isinstance(exc, SystemExit):
        err["message"] = "the code called exit(%s)" % safe_repr(exc.code, 60)
    return err


def _remote_frames(exc, fr, total):
    """An exception raised in the candidate's process (llmrepl_judge) carries
    the code's own frames: they come after the tests' frames here."""
    remote = getattr(exc, "_llmrepl_frames", None)
    if not remote:
        return fr, total
    own = [{"file": "solution", "line": line, "function": clean(name, 100)}
           for line, name in remote]
    fr = fr + own
    if len(fr) > FRAMES_MAX:
        fr = fr[:2] + fr[-(FRAMES_MAX - 2):]
    return fr, total + len(own)


def _message(exc):
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001
        text = "<unprintable %s>" % type(exc).__name__
    return clean(text, 1000)


class Runner:
    """The object the rewritten tests see as `_llmrepl_`, and the step driver."""

    def __init__(self, plan, opts, emit, shm, skip):
        self.plan = plan
        self.opts = opts
        self.emit_fn = emit
        self.shm = shm
        self.skip = skip
        self.stack = []  # [step, deadline, start, out_pos]
        self.results = {}
        self.pending = []
        self.failed = set()
        self.busy = False
        self.hard_exit = None  # exit status when a step cannot be stopped in-process
        self.seq = 0
        self.calls = []
        self.deadline = opts["deadline"]
        self.test_timeout = opts["test_timeout_s"]
        self.out = Capture(opts["max_output"], "stdout")
        self.err = Capture(opts["max_output"], "stderr")
        self.sources = {"solution": opts["code"].splitlines(),
                        "tests": (opts.get("tests") or "").splitlines()}
        self.remote = None  # llmrepl_judge.Remote when the code runs apart
        self.docs = 0  # the code's docstrings whose examples ran apart

    # ---- timers -------------------------------------------------------------
    def _arm(self):
        if not self.stack:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self._shm(-1, 0.0)
            return
        k, deadline = self.stack[-1][0], self.stack[-1][1]
        self._shm(k, deadline)
        signal.setitimer(signal.ITIMER_REAL, max(deadline - time.monotonic(), 0.001))

    def _shm(self, k, deadline):
        if self.shm is not None:
            struct.pack_into(SHM_FMT, self.shm, 0, k, deadline)

    def on_alarm(self, signum, frame):
        if not self.stack:
            return
        deadline = self.stack[-1][1]
        now = time.monotonic()
        if now < deadline:
            signal.setitimer(signal.ITIMER_REAL, max(deadline - now, 0.001))
            return
        if self.remote is not None and self.remote.waiting:
            # Waiting for the candidate's process: its own timer stops the
            # code at the deadline; past the grace the call is given up here
            # (llmrepl_judge kills that process).
            end = deadline + self.opts.get("grace_s", 0.5)
            if now < end:
                signal.setitimer(signal.ITIMER_REAL, max(end - now, 0.001))
                return
            signal.setitimer(signal.ITIMER_REAL, REPEAT_S)
            raise StepTimeout("step exceeded its time limit")
        if self.hard_exit is not None and now >= deadline + self.opts.get("grace_s", 0.5):
            # In-process and the code keeps swallowing the interruption: give
            # up on this process; the caller runs the evaluation again with
            # each test in a process that can be killed.
            os._exit(self.hard_exit)
        if self.busy or (frame is not None and frame.f_code.co_filename in HARNESS_FILES):
            signal.setitimer(signal.ITIMER_REAL, 0.005)
            return
        signal.setitimer(signal.ITIMER_REAL, REPEAT_S)
        raise StepTimeout("step exceeded its time limit")

    # ---- steps ----------------------------------------------------------------
    def enter(self, k):
        self.busy = True
        try:
            if k in self.skip or k in self.failed:
                return False
            step = self.plan.steps[k]
            now = time.monotonic()
            if now >= self.deadline:
                if step["counted"] and k not in self.results:
                    self._record(k, "not_run", 0.0, error={
                        "type": "Budget", "message": "not run: the time budget was spent"})
                return False
            limit = self.deadline if step["container"] else min(self.deadline,
                                                                now + self.test_timeout)
            self.stack.append([k, limit, time.perf_counter(), self.out.position(), self.seq])
            self._arm()
            return True
        finally:
            self.busy = False

    def _pop(self, k):
        while self.stack:
            top = self.stack.pop()
            if top[0] == k:
                return top
        return None

    def ok(self, k):
        self.busy = True
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
            top = self._pop(k)
            dur = time.perf_counter() - top[2] if top else 0.0
            if self.plan.steps[k]["counted"] or k in self.results:
                self._record(k, "passed", dur)
            self._arm()
            if not self.stack:
                self.flush()
        finally:
            self.busy = False

    def fail(self, k, exc, detail=None):
        self.busy = True
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
            top = self._pop(k)
            dur = time.perf_counter() - top[2] if top else 0.0
            status, error = self._classify(k, exc)
            assertion = detail or getattr(exc, "_llmrepl_detail", None)
            if assertion is None and top is not None:
                assertion = self._interrupted_call(top[4])
            elif assertion is not None and "line" not in error and "line" in assertion:
                # Raised inside the harness's own assert: point at the test's line.
                line = assertion["line"]
                lines = self.sources["tests"]
                code = clean(lines[line - 1].strip(), 200) if 0 < line <= len(lines) else ""
                error.update({"file": "tests", "line": line, "code": code, "traceback": [
                    {"file": "tests", "line": line, "function": "<module>", "code": code}]})
            out = None
            if top is not None:
                out = self.out.text_since(top[3], STEP_OUT_MAX) or None
            self.failed.add(k)
            self._record(k, status, dur, error=error, assertion=assertion, stdout=out)
            self._arm()
            self.flush()
        finally:
            self.busy = False

    def _interrupted_call(self, seq):
        """The call of the code under test that raised or hung, if the step
        made one through an assert."""
        calls = [c for c in self.calls if c["seq"] > seq and "result" not in c]
        if not calls:
            return None
        c = calls[-1]
        return {"call": clean("%s(%s)" % (c["fn"], c["args"]), 600),
                "input": clean(c["args"], 600)}

    def remaining(self):
        """Seconds left of the running step (or of the budget)."""
        end = self.stack[-1][1] if self.stack else self.deadline
        return max(0.001, end - time.monotonic())

    def _classify(self, k, exc):
        st = getattr(type(exc), "llmrepl_status", None)
        if st is not None:
            err = describe(exc, self.sources)
            err["type"] = "Crash"
            return st, err
        if isinstance(exc, StepTimeout):
            limit = "the time budget" if self.plan.steps[k]["container"] else \
                "its %.3g s limit" % self.test_timeout
            err = describe(exc, self.sources)
            err["type"] = "Timeout"
            err["message"] = "did not finish within %s" % limit
            return "timeout", err
        err = describe(exc, self.sources)
        if isinstance(exc, AssertionError):
            return "failed", err
        return "error", err

    def _record(self, k, status, dur, error=None, assertion=None, stdout=None):
        r = self.results.get(k)
        if r is None:
            r = {"k": k, "status": status, "runs": 0, "duration_s": 0.0}
            self.results[k] = r
            self.pending.append(r)
        elif r not in self.pending:
            self.pending.append(r)
        r["runs"] += 1
        r["duration_s"] += dur
        if r["status"] == "passed" or status != "passed":
            r["status"] = status
        if error is not None:
            r["error"] = error
        if assertion is not None:
            r["assertion"] = assertion
        if stdout:
            r["stdout"] = clean(stdout)

    def flush(self, final=None):
        recs = []
        for r in self.pending:
            rr = dict(r)
            rr["t"] = "step"
            rr["duration_s"] = round(rr["duration_s"], 6)
            recs.append(rr)
        self.pending = []
        o, e = self.out.delta(), self.err.delta()
        if o or e:
            recs.append({"t": "out", "o": clean(o), "e": clean(e)})
        if final is not None:
            recs.append(final)
        if recs:
            self.emit_fn(recs)

    # ---- what the rewritten asserts call -------------------------------------
    def mark(self):
        return self.seq

    def call(self, fn, /, *args, **kwargs):
        self.seq += 1
        rec = {"seq": self.seq, "fn": getattr(fn, "__name__", None) or safe_repr(fn, 60)}
        parts = [safe_repr(a, 300) for a in args]
        parts += ["%s=%s" % (key, safe_repr(v, 300)) for key, v in kwargs.items()]
        rec["args"] = ", ".join(parts)
        if len(self.calls) >= 4:
            del self.calls[0]
        self.calls.append(rec)
        try:
            result = fn(*args, **kwargs)
        except BaseException as e:
            rec["raised"] = type(e).__name__
            raise
        rec["result"] = result
        return result

    def soft(self, k, site, left, right, msg):
        """A rewritten assert that is a test case of its own (see
        llmrepl_textplan): record its outcome and carry on."""
        if not self.enter(k):
            return
        try:
            self.hard(site, left, right, msg)
            self.ok(k)
        except BaseException as e:  # noqa: BLE001 - the case's outcome
            self.fail(k, e)

    def hard(self, site, left, right, msg):
        """A rewritten assert inside a test function or helper: evaluate each
        side once; on failure raise AssertionError with the values."""
        mark = self.seq
        lv = left()
        if right is not None:
            rv = right()
            if not _COMPARE[self.plan.sites[site]["op"]](lv, rv):
                self.afail(site, mark, lv, rv, msg() if msg is not None else None)
        elif self.plan.sites[site]["negated"]:
            if lv:
                self.afail(site, mark, lv, NOVALUE, msg() if msg is not None else None)
        elif not lv:
            self.afail(site, mark, lv, NOVALUE, msg() if msg is not None else None)

    def afail(self, site, mark, left, right, msg):
        info = self.plan.sites[site]
        d = {"line": info["line"], "expr": info["expr"]}
        if msg is not None:
            d["message"] = safe_repr(msg, 400) if not isinstance(msg, str) else clean(msg, 400)
        calls = [c for c in self.calls if c["seq"] > mark]
        if calls:
            c = calls[-1]
            d["call"] = clean("%s(%s)" % (c["fn"], c["args"]), 600)
            d["input"] = clean(c["args"], 600)
            if "result" in c:
                d["actual"] = safe_repr(c["result"])
        if info["op"] is not None:
            d["op"] = info["op"]
            d["left"] = safe_repr(left)
            d["right"] = safe_repr(right)
            if info["op"] == "==" and info["call_side"] == "left":
                d["actual"], d["expected"] = safe_repr(left), safe_repr(right)
            elif info["op"] == "==" and info["call_side"] == "right":
                d["actual"], d["expected"] = safe_repr(right), safe_repr(left)
        else:
            d["value"] = safe_repr(left)
            d["expected"] = "a false value" if info["negated"] else "a true value"
            if "actual" not in d:
                d["actual"] = d["value"]
        text = msg if isinstance(msg, str) else ("" if msg is None else safe_repr(msg))
        e = AssertionError(text or _assert_text(d))
        e._llmrepl_detail = d
        raise e

    # ---- the run ----------------------------------------------------------------
    def run(self):
        plan = self.plan
        mod = types.ModuleType(self.opts["module"])
        ns = mod.__dict__
        ns["__file__"] = self.opts["module"] + ".py"
        ns["__builtins__"] = __builtins__
        if plan.tests_code is None and plan.tests_units is None and not plan.doctests:
            ns["__name__"] = "__main__"
        sys.modules[self.opts["module"]] = mod
        t0 = time.perf_counter()
        load_ok = False
        k = plan.load_step
        if self.enter(k):
            sent = getattr(self.remote, "sent_at", None)
            if sent is not None:
                # Loading began when the judge sent the code (before the
                # static checks): that is when its time starts.
                self.stack[-1][2] = min(self.stack[-1][2], sent)
                t0 = min(t0, sent)
            try:
                if self.remote is not None:
                    ns.update(self.remote.load())
                else:
                    if self.opts.get("session_cells"):
                        import llmrepl_session
                        llmrepl_session.replay(self.opts["session_cells"], ns, StepTimeout)
                    exec(plan.solution_code, ns)
                self.ok(k)
                load_ok = True
            except SystemExit as e:
                if e.code in (None, 0):
                    self.ok(k)
                    load_ok = True
                else:
                    self.fail(k, e)
            except BaseException as e:  # noqa: BLE001 - the code's own failure
                self.fail(k, e)
        load_s = time.perf_counter() - t0
        timed_out = self.results.get(k, {}).get("status") == "timeout"
        t1 = time.perf_counter()
        if not timed_out:
            self._run_tests(ns, load_ok)
        self.flush()
        return load_s, time.perf_counter() - t1

    def _run_tests(self, ns, load_ok):
        plan = self.plan
        tns = None
        if plan.tests_code is not None or plan.tests_units is not None:
            tns = dict(ns)
            tns["__name__"] = "tests"
            tns["__file__"] = "tests.py"
            tns["_llmrepl_"] = self
            tns["_llmrepl_novalue"] = NOVALUE
            try:
                if plan.tests_units is None:
                    exec(plan.tests_code, tns)
                for k, code in plan.tests_units or ():
                    if k is None:
                        exec(code, tns)  # an assert or check(): its steps are inside
                    else:
                        self._guard(k, lambda code=code: exec(code, tns))
            except BaseException as e:  # noqa: BLE001 - outside every step
                self.stack.clear()
                self._arm()
                self._record(plan.load_step, "error", 0.0, error=describe(e, self.sources))
        if plan.check_step is not None:
            self._check(ns, tns)
        for k, name in plan.test_funcs:
            self._guard(k, lambda name=name: _run_test_function(tns.get(name), name))
        classes = {}
        for k, cls, meth in plan.unittests:
            self._guard(k, lambda cls=cls, meth=meth: self._unittest(tns, cls, meth, classes))
        for test, steps in plan.doctests:
            self._doctest(ns, test, steps)

    def _guard(self, k, fn):
        if self.enter(k):
            try:
                fn()
                self.ok(k)
            except BaseException as e:  # noqa: BLE001
                self.fail(k, e)

    def _check(self, ns, tns):
        plan = self.plan
        name = plan.entry_point

        def call():
            if name not in ns:
                raise EntryPointError(_missing(name, ns))
            fn = ns[name]
            if not callable(fn):
                raise EntryPointError("the entry point %r is a %s, not a function" % (
                    name, type(fn).__name__))
            check = (tns or {}).get("check")
            if not callable(check):
                raise EntryPointError("the tests' check() was not defined")
            if plan.check_ahead and self.remote is not None and not self.skip \
                    and not self.failed and getattr(getattr(check, "__code__", None),
                                                    "co_firstlineno", None) == plan.check_line:
                # check() as planned, on the code's own function: its calls
                # go to the candidate at once (llmrepl_ahead).
                self.remote.send_ahead(fn, name, plan.check_ahead,
                                       min(self.test_timeout, self.deadline - time.monotonic()))
            check(fn)

        self._guard(plan.check_step, call)

    def _unittest(self, tns, cls_name, meth, classes):
        cls = (tns or {}).get(cls_name)
        if not (isinstance(cls, type) and issubclass(cls, unittest.TestCase)):
            raise FixtureError("%s is not a unittest.TestCase" % cls_name)
        if cls_name not in classes:
            classes[cls_name] = None
            try:
                cls.setUpClass()
            except BaseException as e:  # noqa: BLE001
                classes[cls_name] = e
        if classes[cls_name] is not None:
            raise classes[cls_name]
        inst = cls(meth)
        inst.setUp()
        try:
            getattr(inst, meth)()
        finally:
            inst.tearDown()

    def _doctest(self, ns, test, steps):
        runner = _DocRunner(self, steps, test)
        if self.remote is not None and test.filename == "<solution>":
            # The code's own examples: its author's text, so they run on the
            # candidate's side, never here (see _doctest_apart).
            self._doctest_apart(runner, test)
            return
        test = doctest.DocTest(runner.examples, dict(ns), test.name, test.filename, test.lineno,
                               test.docstring)
        saved = sys.stdout
        try:
            runner.run(test, out=lambda s: None, clear_globs=True)
        finally:
            sys.stdout = saved
            signal.setitimer(signal.ITIMER_REAL, 0)


    def _doctest_apart(self, runner, test):
        """The examples of one of the code's docstrings, each run in the
        candidate's process (llmrepl_judge.Remote.example), which answers
        with data: what it printed and the exception's last line. They are
        compared here by doctest's own rules (DocTestRunner.run's: the
        OutputChecker, an expected exception by its message, the examples'
        option flags) and reported through the same DocRunner as in-process."""
        check = doctest.OutputChecker().check_output
        self.docs += 1
        failures = 0
        for num, ex in enumerate(runner.examples):
            flags = runner.optionflags
            for flag, on in (ex.options or {}).items():
                flags = flags | flag if on else flags & ~flag
            if flags & doctest.SKIP:
                continue
            quiet = bool(flags & doctest.REPORT_ONLY_FIRST_FAILURE) and failures > 0
            runner.active = None
            if not quiet:
                runner.report_start(None, test, ex)
            if runner.active is None:
                continue  # not to be run (decided before, or the budget is spent)
            try:
                got, text, exc = self.remote.example(
                    self.docs, ex.source, "<doctest %s[%d]>" % (test.name, num))
            except BaseException as e:  # noqa: BLE001 - a timeout, a crash
                runner.report_unexpected_exception(None, test, ex, (type(e), e, None))
                failures += 1
                continue
            ok = False
            if text is None:
                ok = check(ex.want, got, flags)
            elif ex.exc_msg is not None:
                ok = check(ex.exc_msg, text, flags) or bool(
                    flags & doctest.IGNORE_EXCEPTION_DETAIL and check(
                        doctest._strip_exception_details(ex.exc_msg),
                        doctest._strip_exception_details(text), flags))
            if ok:
                runner.report_success(None, test, ex, got)
                continue
            failures += 1
            if text is None:
                runner.report_failure(None, test, ex, got)
            elif ex.exc_msg is not None:
                runner.report_failure(None, test, ex, got + "Traceback (most recent call last):"
                                      "\n    ...\n" + text)
            else:
                runner.report_unexpected_exception(None, test, ex, (type(exc), exc, None))
            if flags & doctest.FAIL_FAST:
                break


def _assert_text(d):
    if "expected" in d and "actual" in d:
        return "%s: got %s, expected %s" % (d["expr"], d["actual"], d["expected"])
    return d["expr"]


def _missing(name, ns):
    defined = [n for n, v in ns.items() if not n.startswith("__") and callable(v)
               and getattr(v, "__module__", None) in (None, ns.get("__name__"))]
    msg = "the code does not define %r" % name
    close = difflib.get_close_matches(name, defined, n=1)
    if close:
        msg += " (did you mean %r?)" % close[0]
    if defined:
        msg += "; it defines %s" % ", ".join(sorted(defined)[:10])
    else:
        msg += "; it defines no function"
    return msg


def _run_test_function(fn, name):
    if fn is None:
        raise FixtureError("test function %s was not defined" % name)
    marks = getattr(fn, "pytestmark", None) or []
    params = [m for m in marks if getattr(m, "name", None) == "parametrize"]
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        sig = None
    required = [p.name for p in (sig.parameters.values() if sig else [])
                if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if params:
        _run_parametrized(fn, params, required)
        return
    if required:
        raise FixtureError("pytest fixtures are not supported: %s(%s)" % (name,
                                                                       ", ".join(required)))
    r = fn()
    if inspect.iscoroutine(r):
        r.close()
        raise FixtureError("async test functions are not supported")


def _run_parametrized(fn, marks, required):
    sets = []
    for m in marks:
        names, values = m.args[0], m.args[1]
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        rows = []
        for v in values:
            v = getattr(v, "values", v)  # pytest.param(...)
            if len(names) == 1 and not (isinstance(v, tuple) and len(v) == 1
                                        and hasattr(v, "__len__")):
                v = (v,)
            rows.append(dict(zip(names, v)))
        sets.append(rows)
    for combo in itertools.product(*sets):
        kwargs = {}
        for part in combo:
            kwargs.update(part)
        missing = [r for r in required if r not in kwargs]
        if missing:
            raise FixtureError("pytest fixtures are not supported: %s" % ", ".join(missing))
        try:
            fn(**kwargs)
        except AssertionError as e:
            e.args = ("with %s: %s" % (", ".join("%s=%s" % (k, safe_repr(v, 100))
                                                  for k, v in kwargs.items()),
                                        e.args[0] if e.args else ""),)
            raise


def _short_traceback(got):
    """doctest's `got` for an exception holds the whole traceback, harness
    frames included; what matters is its last line."""
    if got.startswith("Traceback (most recent call last):"):
        last = [ln for ln in got.splitlines() if ln and not ln.startswith(" ")]
        return "Traceback (most recent call last):\n    ...\n" + (last[-1] if last else "")
    return got


def _make_docrunner():

    class DocRunner(doctest.DocTestRunner):
        def __init__(self, harness, steps, test):
            super().__init__(verbose=False, optionflags=0)
            self.h = harness
            self.stepmap = {}
            self.examples = []
            for ex, k in zip(test.examples, steps):
                if k in harness.fatal:
                    continue  # it hung or crashed a run before: leave it out
                self.stepmap[id(ex)] = k
                self.examples.append(ex)
            self.active = None

        def report_start(self, out, test, example):
            k = self.stepmap.get(id(example))
            self.active = None
            if k is not None and k not in self.h.skip and self.h.enter(k):
                self.active = k

        def report_success(self, out, test, example, got):
            if self.active is not None:
                self.h.ok(self.active)
                self.active = None

        def report_failure(self, out, test, example, got):
            if self.active is not None:
                k = self.plan_line(example)
                detail = {"line": k, "expr": clean(example.source.strip(), 400),
                          "expected": clean(example.want.rstrip("\n"), 600),
                          "actual": clean(_short_traceback(got.rstrip("\n")), 600)}
                e = AssertionError("expected %s, got %s" % (detail["expected"],
                                                            detail["actual"]))
                self.h.fail(self.active, e, detail=detail)
                self.active = None

        def report_unexpected_exception(self, out, test, example, exc_info):
            if self.active is not None:
                e = exc_info[1]
                self.h.fail(self.active, e)
                r = self.h.results.get(self.active)
                if r is not None and not isinstance(e, StepTimeout):
                    r.setdefault("assertion", {"line": self.plan_line(example),
                                               "expr": clean(example.source.strip(), 400),
                                               "expected": clean(example.want.rstrip("\n"),
                                                                 600)})
                self.active = None

        def plan_line(self, example):
            return self.h.plan.steps[self.stepmap[id(example)]]["line"]

    return DocRunner


_DocRunner = _make_docrunner()


def child_main(plan, opts, wfd, shm, skip, fatal):
    """Entry of the forked child. Never returns."""
    code = 0
    try:
        code = _child(plan, opts, wfd, shm, skip, fatal)
    except BaseException:  # noqa: BLE001 - report nothing more; the parent sees EOF
        code = 70
    finally:
        os._exit(code)


def _child(plan, opts, wfd, shm, skip, fatal):
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    os.closerange(3, wfd)
    os.closerange(wfd + 1, 1024)
    out = os.fdopen(wfd, "wb", buffering=0)

    def emit(recs):
        data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in recs).encode()
        view = memoryview(data)
        while view:
            n = out.write(view)
            view = view[n:]

    _run_measured(make_runner(plan, opts, emit, shm, skip, fatal), opts)
    return 0


def make_runner(plan, opts, emit, shm, skip, fatal):
    r = Runner(plan, opts, emit, shm, skip)
    r.fatal = fatal
    return r


def memory_start():
    """Resident memory now, in kB, with the kernel's high-water mark reset to
    it where allowed, so that the peak measured later is the code's own (a
    forked process inherits its parent's mark)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * (resource.getpagesize() // 1024)
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_peak():
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run_measured(runner, opts, after=None):
    """The runner's run, between _install and _restore (then after(), when
    given, whatever happened), and its end record: the phases' times, the
    CPU and the memory the run took."""
    rss0 = memory_start()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    saved = _install(runner, opts)
    try:
        load_s, tests_s = runner.run()
    finally:
        _restore(saved)
        if after is not None:
            after()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    runner.flush(final=_end_record(runner, ru0, ru1, load_s, tests_s, rss0))


def _end_record(runner, ru0, ru1, load_s, tests_s, rss0):
    return {"t": "end", "load_s": round(load_s, 6), "tests_s": round(tests_s, 6),
            "cpu_s": round((ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime), 6),
            "rss_start_kb": rss0, "rss_peak_kb": memory_peak(),
            "stdout_dropped": runner.out.dropped, "stderr_dropped": runner.err.dropped}


def _install(runner, opts):
    gc.enable()  # the code gets the collector it expects; the harness runs without
    saved = (sys.stdout, sys.stderr, sys.stdin, list(sys.argv),
             signal.signal(signal.SIGALRM, runner.on_alarm))
    sys.stdout, sys.stderr = runner.out, runner.err
    sys.stdin = io.StringIO(opts.get("stdin") or "")
    sys.argv[:] = [opts["module"] + ".py"]
    return saved


def _restore(saved):
    gc.disable()
    signal.setitimer(signal.ITIMER_REAL, 0)
    sys.stdout, sys.stderr, sys.stdin = saved[0], saved[1], saved[2]
    sys.argv[:] = saved[3]
    signal.signal(signal.SIGALRM, saved[4])


def run_inline(plan, opts, skip, hard_exit=None, remote=None):
    """The run in this process: no fork, so the cheapest; timers still apply.
    With hard_exit, a step that swallows its interruption past its grace
    ends the process with that status (the caller's cue to isolate). With
    remote (a function of the runner making an llmrepl_judge.Remote), the
    code runs in the candidate's process and only the tests run here."""
    records = []
    runner = make_runner(plan, opts, records.extend, None, skip, set())
    runner.hard_exit = hard_exit
    if remote is not None:
        runner.remote = remote(runner)

    def after():
        sys.modules.pop(opts["module"], None)
        if runner.remote is not None:
            runner.remote.close()

    _run_measured(runner, opts, after)
    return records
