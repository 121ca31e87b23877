"""llmrepl_static - pyflakes, bandit and radon over the candidate code.

Pure analysis (nothing of the code runs), done by the harness's supervising
process inside the same sandbox. Each tool's findings carry their line; a tool
that fails or is missing is reported as such and the others still run.
Imports and one warm-up happen at import time, so that a pre-forked
interpreter pays them once and every request starts warm.
"""
import ast
import io
import time

FINDINGS_MAX = 200
# Findings about Python 2 only: B322 says input() evaluates what it reads,
# which is true of Python 2's input() and not of Python 3's.
PY2_ONLY = frozenset({"B322"})

try:
    import pyflakes.checker
except Exception as e:  # noqa: BLE001 - reported per request
    pyflakes = None
    _PYFLAKES_ERR = "%s: %s" % (type(e).__name__, e)
else:
    _PYFLAKES_ERR = None

try:
    from bandit.core import config as _bconfig
    from bandit.core import meta_ast as _bmeta
    from bandit.core import metrics as _bmetrics
    from bandit.core import node_visitor as _bvisitor
    from bandit.core import test_set as _btestset
except Exception as e:  # noqa: BLE001
    _bvisitor = None
    _BANDIT_ERR = "%s: %s" % (type(e).__name__, e)
else:
    _BANDIT_ERR = None

try:
    import radon.complexity as _rcc
    import radon.metrics as _rmetrics
    from radon.visitors import Function as _RFunction
except Exception as e:  # noqa: BLE001
    _rcc = None
    _RADON_ERR = "%s: %s" % (type(e).__name__, e)
else:
    _RADON_ERR = None

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


if _bvisitor is not None:
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


def run_bandit(code, tree):
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
    if _RADON_ERR:
        return {"ran": False, "error": _RADON_ERR}
    blocks = _rcc.cc_visit_ast(tree)
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
    mi = _rmetrics.mi_visit(code, True)
    mi = round(float(mi), 2) if mi == mi else None  # NaN guard
    out = {"ran": True, "functions": funcs[:FINDINGS_MAX], "truncated": len(funcs) > FINDINGS_MAX,
           "max_complexity": worst["complexity"] if worst else 0,
           "max_complexity_function": worst["name"] if worst else None,
           "max_complexity_line": worst["line"] if worst else None,
           "mi": mi, "mi_rank": _rmetrics.mi_rank(mi) if mi is not None else None}
    return out


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


_warm()
