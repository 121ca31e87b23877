"""llmrepl_static - pyflakes, bandit and radon over the candidate code.

Pure analysis (nothing of the code runs), done by the harness's supervising
process inside the same sandbox. Each tool's findings carry their line; a tool
that fails or is missing is reported as such and the others still run.
The tools are imported on first use (load()): the static service
(serve(), a held interpreter of its own) imports and warms them once at its
start; a judge that runs the checks itself (the service off or failed)
imports them then.
"""
import ast
import io
import time

import llmrepl_planbase

FINDINGS_MAX = 200
# Findings about Python 2 only: B322 says input() evaluates what it reads,
# which is true of Python 2's input() and not of Python 3's.
PY2_ONLY = frozenset({"B322"})

# The tools are imported by load(), not with this module: the pool's server
# imports this module (through the harness) for the rare run that analyses
# the code itself, and forks every run from it; the tools' ~18 MB of heap
# there would cost each run copy-on-write faults and page-table teardown.
pyflakes = None
_bvisitor = _rcc = None
_PYFLAKES_ERR = _BANDIT_ERR = _RADON_ERR = None
_LOADED = False


def load(warm=False):
    """Import the three tools (once per process); `warm` then runs them over
    a sample, so that a process that serves many analyses pays its first-use
    costs before the first. A missing tool is reported per request."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    _load_pyflakes()
    _load_bandit()
    _load_radon()
    if warm:
        _warm()


def _load_pyflakes():
    global pyflakes, _PYFLAKES_ERR
    try:
        import pyflakes.checker
    except Exception as e:  # noqa: BLE001 - reported per request
        pyflakes = None
        _PYFLAKES_ERR = "%s: %s" % (type(e).__name__, e)


def _load_radon():
    global _rcc, _rmetrics, _rraw, _RComplexity, _RFunction, _RADON_ERR
    try:
        import radon.complexity as _rcc
        import radon.metrics as _rmetrics
        import radon.raw as _rraw
        from radon.visitors import ComplexityVisitor as _RComplexity
        from radon.visitors import Function as _RFunction
    except Exception as e:  # noqa: BLE001
        _rcc = None
        _RADON_ERR = "%s: %s" % (type(e).__name__, e)


# pyflakes messages that mean the code is wrong (it will fail when the line
# runs, or cannot mean what it says); everything else is a warning.
PYFLAKES_ERRORS = {
    "UndefinedName", "UndefinedExport", "UndefinedLocal", "DuplicateArgument",
    "ReturnOutsideFunction", "YieldOutsideFunction", "BreakOutsideLoop",
    "ContinueOutsideLoop", "ContinueInFinally", "DefaultExceptNotLast",
    "TwoStarredExpressions", "TooManyExpressionsInStarredAssignment",
    "ForwardAnnotationSyntaxError", "CommentAnnotationSyntaxError", "LateFutureImport",
    "FutureFeatureNotDefined", "ImportStarNotPermitted", "InvalidPrintSyntax",
    "RaiseNotImplemented", "AssertTuple", "IfTuple", "DoctestSyntaxError",
    "PercentFormatExpectedMapping", "PercentFormatExpectedSequence",
    "PercentFormatInvalidFormat", "PercentFormatMissingArgument",
    "PercentFormatMixedPositionalAndNamed", "PercentFormatPositionalCountMismatch",
    "PercentFormatStarRequiresSequence", "PercentFormatUnsupportedFormatCharacter",
    "StringDotFormatInvalidFormat", "StringDotFormatMissingArgument",
    "StringDotFormatMixingAutomatic",
}

SEVERITY_RANK = {"none": 0, "low": 1, "medium": 2, "high": 3}


def _clip(s, n=300):
    s = str(s)
    return s if len(s) <= n else s[: n - 3] + "..."


# Names the code may use without defining them: those a session's cells,
# which run before it, define (set per request by the harness).
KNOWN_NAMES = frozenset()


def run_pyflakes(tree, filename="<solution>"):
    load()
    if _PYFLAKES_ERR:
        return {"ran": False, "error": _PYFLAKES_ERR}
    w = pyflakes.checker.Checker(tree, filename=filename, builtins=KNOWN_NAMES)
    msgs = sorted(w.messages, key=lambda m: (m.lineno, getattr(m, "col", 0)))
    findings = []
    errors = warnings = 0
    for m in msgs:
        code = type(m).__name__
        kind = "error" if code in PYFLAKES_ERRORS else "warning"
        if kind == "error":
            errors += 1
        else:
            warnings += 1
        if len(findings) < FINDINGS_MAX:
            findings.append({"line": m.lineno, "col": getattr(m, "col", 0) + 1, "kind": kind,
                             "code": code, "message": _clip(m.message % m.message_args)})
    return {"ran": True, "errors": errors, "warnings": warnings, "findings": findings,
            "truncated": len(msgs) > len(findings)}


def _load_bandit():
    global _bconfig, _bmeta, _bmetrics, _bvisitor, _btestset, _BANDIT_ERR
    try:
        from bandit.core import config as _bconfig
        from bandit.core import meta_ast as _bmeta
        from bandit.core import metrics as _bmetrics
        from bandit.core import node_visitor as _bvisitor
        from bandit.core import test_set as _btestset
        _bandit_setup()
    except Exception as e:  # noqa: BLE001 - reported per request, as a missing tool
        _bvisitor = None
        _BANDIT_ERR = "%s: %s" % (type(e).__name__, e)


def _bandit_setup():
    global _Visitor, _BCONF, _BTESTS

    class _Visitor(_bvisitor.BanditNodeVisitor):
        """Bandit 1.6 knows string literals as ast.Str; Python 3.8+ parses
        them as ast.Constant. Route those to the string checks (hardcoded
        passwords, /tmp paths, binding all interfaces) so they still run."""

        def visit_Constant(self, node):
            if isinstance(node.value, str):
                self.visit_Str(node)
            elif isinstance(node.value, bytes):
                self.visit_Bytes(node)
            else:
                self.update_scores(self.tester.run_tests(self.context, "Constant"))

    _BCONF = _bconfig.BanditConfig()
    _BTESTS = _btestset.BanditTestSet(_BCONF, {})

    def _linerange(node):
        """bandit 1.6.2's utils.linerange, the same nodes walked without
        ast.walk's generators (llmrepl_planbase.walk; bandit calls it for
        every node it visits; it was a third of bandit's time)."""
        strip = {"body": None, "orelse": None, "handlers": None, "finalbody": None}
        for key in strip.keys():
            if hasattr(node, key):
                strip[key] = getattr(node, key)
                setattr(node, key, [])
        lines_min = 9999999999
        lines_max = -1
        for n in llmrepl_planbase.walk(node):
            if hasattr(n, "lineno"):
                lines_min = min(lines_min, n.lineno)
                lines_max = max(lines_max, n.lineno)
        for key in strip.keys():
            if strip[key] is not None:
                setattr(node, key, strip[key])
        if lines_max > -1:
            return list(range(lines_min, lines_max + 1))
        return [0, 1]

    import bandit as _bandit
    from bandit.core import utils as _butils
    if getattr(_bandit, "__version__", None) == "1.6.2":  # the version it copies
        _butils.linerange = _linerange


def run_bandit(code, tree):
    load()
    if _BANDIT_ERR:
        return {"ran": False, "error": _BANDIT_ERR}
    data = code.encode("utf-8", "replace")
    nosec = _nosec_lines(data)
    metrics = _bmetrics.Metrics()
    metrics.begin("<solution>")
    v = _Visitor("<solution>", _bmeta.BanditMetaAst(), _BTESTS, False, nosec, metrics)
    v.generic_visit(tree)  # what v.process(data) does, without parsing again
    issues = sorted((i for i in v.tester.results if i.test_id not in PY2_ONLY),
                    key=lambda i: (i.lineno, i.test_id))
    findings = []
    worst = "none"
    for i in issues:
        sev = str(i.severity).lower()
        if SEVERITY_RANK.get(sev, 0) > SEVERITY_RANK[worst]:
            worst = sev
        if len(findings) < FINDINGS_MAX:
            findings.append({"line": i.lineno, "test_id": i.test_id, "test": i.test,
                             "severity": sev, "confidence": str(i.confidence).lower(),
                             "message": _clip(i.text)})
    counts = {s: sum(1 for i in issues if str(i.severity).lower() == s)
              for s in ("low", "medium", "high")}
    return {"ran": True, "findings": findings, "max_severity": worst, "counts": counts,
            "truncated": len(issues) > len(findings)}


def _nosec_lines(data):
    import tokenize
    lines = set()
    try:
        for tok in tokenize.tokenize(io.BytesIO(data).readline):
            if tok.type == tokenize.COMMENT and ("#nosec" in tok.string
                                                 or "# nosec" in tok.string):
                lines.add(tok.start[0])
    except (tokenize.TokenError, SyntaxError):
        pass
    return lines


def run_radon(code, tree):
    load()
    if _RADON_ERR:
        return {"ran": False, "error": _RADON_ERR}
    cc = _RComplexity.from_ast(tree)  # what cc_visit_ast(tree) visits
    blocks = cc.blocks
    funcs = []

    def add(b, prefix=""):
        name = prefix + (("%s." % b.classname) if getattr(b, "classname", None) else "") + b.name
        funcs.append({"name": name, "line": b.lineno, "endline": b.endline,
                      "complexity": b.complexity, "rank": _rcc.cc_rank(b.complexity)})
        for c in getattr(b, "closures", []) or []:
            add(c, name + ".")

    for b in blocks:
        if isinstance(b, _RFunction):
            add(b)
    funcs.sort(key=lambda f: f["line"])
    worst = max(funcs, key=lambda f: f["complexity"]) if funcs else None
    mi = _mi(code, tree, cc)
    mi = round(float(mi), 2) if mi == mi else None  # NaN guard
    out = {"ran": True, "functions": funcs[:FINDINGS_MAX], "truncated": len(funcs) > FINDINGS_MAX,
           "max_complexity": worst["complexity"] if worst else 0,
           "max_complexity_function": worst["name"] if worst else None,
           "max_complexity_line": worst["line"] if worst else None,
           "mi": mi, "mi_rank": _rmetrics.mi_rank(mi) if mi is not None else None}
    return out


def _mi(code, tree, cc):
    """radon's mi_visit(code, True) on the tree already parsed and the
    complexity already visited (mi_visit parses the code again and visits it
    twice more): the same mi_parameters, the same mi_compute. Neither
    visitor changes the tree."""
    raw = _rraw.analyze(code)
    comments = (raw.comments + raw.multi) / float(raw.sloc) * 100 if raw.sloc != 0 else 0
    return _rmetrics.mi_compute(_rmetrics.h_visit_ast(tree).total.volume, cc.total_complexity,
                                raw.lloc, comments)


def run_all(code, tree):
    """All three tools over one AST. Radon reads it, pyflakes and bandit add
    attributes of their own to its nodes, so radon goes first."""
    out = {}
    for name, fn in (("radon", lambda: run_radon(code, tree)),
                     ("pyflakes", lambda: run_pyflakes(tree)),
                     ("bandit", lambda: run_bandit(code, tree))):
        t = time.perf_counter()
        try:
            r = fn()
        except Exception as e:  # noqa: BLE001 - a tool's own failure
            r = {"ran": False, "error": "%s: %s" % (type(e).__name__, _clip(e))}
        r["duration_s"] = round(time.perf_counter() - t, 6)
        out[name] = r
    return {k: out[k] for k in ("pyflakes", "bandit", "radon")}


def run_all_within(code, tree, budget_s):
    """run_all under a SIGALRM deadline of budget_s seconds; past it the
    answer is {"skipped": why}. For the main thread of a process that has no
    other use for SIGALRM."""
    import signal

    load()  # before the deadline: an import cut short would leave the tools half there

    def expire(signum, frame):
        raise TimeoutError("the static checks took longer than %.3g s" % budget_s)

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, budget_s)
    try:
        return run_all(code, tree)
    except TimeoutError as e:
        return {"skipped": str(e)}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ---- the static service ---------------------------------------------------------
#
# A held sandboxed interpreter of its own (mode "static", started by the host:
# worker/eval_static.c) that imports the tools once and analyses one code per
# frame. It is no fork of anything that runs code, so its pages stay its own
# (a forked judge pays a copy-on-write fault for every page the tools touch,
# several times their own cost), and nothing of a candidate's can reach it.

CACHE_ENTRIES = 4096  # analyses kept, least recently used dropped first
CACHE_BYTES = 32 << 20  # ...and at most this many bytes of answers
SETTINGS = "findings_max=%d;py2_only=%s" % (FINDINGS_MAX, ",".join(sorted(PY2_ONLY)))


def versions():
    """The analysers' versions (part of every cache key)."""
    out = {}
    for name in ("pyflakes", "bandit", "radon"):
        try:
            out[name] = str(__import__(name).__version__)
        except Exception:  # noqa: BLE001 - a missing tool
            out[name] = None
    return out


class Cache:
    """Answers by the hash of the code, the analysers' versions and the
    settings: an answer is only ever given for the very code it was made
    from. Bounded by entries and bytes."""

    def __init__(self, entries=CACHE_ENTRIES, size=CACHE_BYTES):
        import collections
        self.entries, self.size = entries, size
        self.items = collections.OrderedDict()
        self.bytes = 0
        self.hits = self.misses = 0
        self.salt = repr(sorted(versions().items())) + "\0" + SETTINGS + "\0"

    def key(self, code, known=frozenset()):
        """known: the names a session's cells define (they change the
        findings, so they are part of the key)."""
        import hashlib
        names = "\0".join(sorted(known)) + "\1" if known else ""
        return hashlib.sha256((self.salt + names).encode("utf-8", "surrogatepass") +
                              code.encode("utf-8", "surrogatepass")).digest()

    def get(self, key):
        v = self.items.get(key)
        if v is None:
            self.misses += 1
            return None
        self.items.move_to_end(key)
        self.hits += 1
        return v

    def put(self, key, text):
        if len(text) > self.size:
            return
        old = self.items.pop(key, None)
        if old is not None:
            self.bytes -= len(old)
        self.items[key] = text
        self.bytes += len(text)
        while len(self.items) > self.entries or self.bytes > self.size:
            _, v = self.items.popitem(last=False)
            self.bytes -= len(v)


def _known_names(cells):
    """The names a session's cells define (what the judge's own checks are
    given: llmrepl_harness._static)."""
    if not isinstance(cells, list) or not cells:
        return frozenset()
    import llmrepl_session
    return frozenset(llmrepl_session.defined_names([c for c in cells if isinstance(c, str)]))


def analyse(req, cache, dumps):
    """One frame: {"code": str, "budget_s": float, "cells"?: [str]} (cells:
    the session's, run before the code) -> the JSON text of
    {"ok": true, "static": {...}, "cached": bool, "static_s": float}, or
    {"ok": false, "error": why} when the code does not parse (the harness
    then reports the syntax error, and no static checks)."""
    code = req.get("code")
    budget = req.get("budget_s")
    if not isinstance(code, str):
        return dumps({"ok": False, "error": "no code"})
    if not isinstance(budget, (int, float)) or isinstance(budget, bool) or not 0 < budget <= 60:
        budget = 5.0
    t = time.perf_counter()
    global KNOWN_NAMES
    KNOWN_NAMES = _known_names(req.get("cells"))
    key = cache.key(code, KNOWN_NAMES)
    hit = cache.get(key)
    if hit is not None:
        return '{"ok": true, "cached": true, "static_s": %.6f, "static": %s}' % (
            time.perf_counter() - t, hit)
    try:
        tree = ast.parse(code, "<solution>")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        return dumps({"ok": False, "error": "%s: %s" % (type(e).__name__, _clip(e))})
    result = run_all_within(code, tree, budget)
    text = dumps(result)
    if "skipped" not in result:
        cache.put(key, text)
    return '{"ok": true, "cached": false, "static_s": %.6f, "static": %s}' % (
        time.perf_counter() - t, text)


def serve(dumps, loads):
    """Mode "static" of a held interpreter: fd 0 carries frames "<n>\n" +
    {"code", "budget_s"}; each is answered with one frame on fd 3."""
    import gc
    import llmrepl_session as session
    ctl = session.held_channel()
    load(warm=True)
    cache = Cache()
    gc.collect()
    gc.freeze()
    while True:
        data = session.read_frame(ctl)
        if data is None:
            return 0
        try:
            req = loads(data.decode("utf-8", "surrogatepass"))
            out = analyse(req if isinstance(req, dict) else {}, cache, dumps)
        except (ValueError, UnicodeDecodeError) as e:
            out = dumps({"ok": False, "error": "bad request: %s" % _clip(e)})
        session.write_frame(3, out.encode("utf-8", "surrogatepass"))


def _warm():
    sample = ("import subprocess\n"
              "def f(a, b=None):\n"
              "    '''Doc.'''\n"
              "    if a and b:\n"
              "        return [x for x in a if x]\n"
              "    password = 'x'\n"
              "    return subprocess.call(a, shell=True)\n")
    try:
        run_all(sample, ast.parse(sample))
    except Exception:  # noqa: BLE001 - warm-up only
        pass
