"""llmrepl_plan - turn the candidate code and its tests into an execution plan.

Runs in the harness's supervising process, before anything untrusted executes.
The plan is a list of numbered steps (loading the code, each assert, each test
function, each doctest example, ...) plus compiled code objects; the child that
runs the code inherits it through fork(), so nothing here is serialised.

Test forms, all of which may appear in one tests text:
  * top-level `assert` statements (MBPP style): one case each;
  * `def check(candidate)` plus an entry point (HumanEval style): one case per
    assert statement inside check(); a failing assert is recorded and check()
    carries on, so one run reports every failing line;
  * pytest-style `test_*` functions and unittest.TestCase methods: one case each;
  * doctests: examples in the code's docstrings, or a tests text that is itself
    a doctest transcript: one case per example.
Every assert in the tests is rewritten to keep both sides of a failing
comparison and the arguments and result of the call to the code under test.
"""
import ast
import doctest

import llmrepl_ahead
import llmrepl_textplan
from llmrepl_planbase import OPS as _OPS
from llmrepl_planbase import SITE_LIMIT, PlanError
from llmrepl_planbase import contains_soft as _contains_soft
from llmrepl_planbase import is_target as _is_target
from llmrepl_planbase import short as _short
from llmrepl_planbase import src as _src

STEP_LIMIT = 5000  # cases and setup statements in one tests text


class CodeError(Exception):
    """The code parses but does not compile; .error is its SyntaxError."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


TARGET_CANDIDATE = "candidate"
H = "_llmrepl_"  # the harness object visible to the rewritten tests
NOVALUE = "_llmrepl_novalue"


class Source:
    """A text split into lines once: ast.get_source_segment splits the whole
    text on every call, which made planning long tests quadratic."""

    def __init__(self, text):
        self.text = text
        if "\r" not in text:  # lines end at \n only, as the parser sees them
            parts = text.split("\n")
            self.lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
        elif hasattr(ast, "_splitlines_no_ff"):
            self.lines = ast._splitlines_no_ff(text)
        else:
            self.lines = text.splitlines(keepends=True)

    def segment(self, node):
        try:
            l0, l1 = node.lineno - 1, node.end_lineno - 1
            c0, c1 = node.col_offset, node.end_col_offset
        except AttributeError:
            return ""
        if l0 < 0 or l1 >= len(self.lines) or l1 < l0 or c0 is None or c1 is None:
            return ""
        if l0 == l1:
            return self.lines[l0].encode()[c0:c1].decode("utf-8", "replace")
        first = self.lines[l0].encode()[c0:].decode("utf-8", "replace")
        last = self.lines[l1].encode()[:c1].decode("utf-8", "replace")
        return "".join([first] + self.lines[l0 + 1:l1] + [last])


def _locate(node, ref):
    """Give new nodes the position of the statement they replace, so that
    tracebacks point at the tests' own lines. Nodes that have a position
    (the original ones, with everything under them) are left alone."""
    todo = [node]
    while todo:
        n = todo.pop()
        if "lineno" in n._attributes:
            if hasattr(n, "lineno"):
                continue
            n.lineno = ref.lineno
            n.col_offset = ref.col_offset
            n.end_lineno = getattr(ref, "end_lineno", ref.lineno)
            n.end_col_offset = getattr(ref, "end_col_offset", ref.col_offset)
        todo.extend(ast.iter_child_nodes(n))
    return node


def _name(n):
    return ast.Name(id=n, ctx=ast.Load())


def _hcall(method, args):
    return ast.Call(func=ast.Attribute(value=_name(H), attr=method, ctx=ast.Load()),
                    args=args, keywords=[])


def _const(v):
    return ast.Constant(value=v)


def _store(n):
    return ast.Name(id=n, ctx=ast.Store())


def top_level_names(tree):
    """Names the code defines at module level: what tests call."""
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    names.append(t.id)
    return names


def function_names(tree):
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


class _CallWrapper(ast.NodeTransformer):
    """Inside one assert expression: route calls of the code under test through
    the harness so that a failure can show the arguments and the result."""

    def __init__(self, targets):
        self.targets = targets
        self.found = 0

    def visit_Lambda(self, node):
        return node  # its calls run later, outside the assert

    def visit_Call(self, node):
        self.generic_visit(node)
        if not _is_target(node.func, self.targets):
            return node
        self.found += 1
        return ast.Call(func=ast.Attribute(value=_name(H), attr="call", ctx=ast.Load()),
                        args=[node.func] + node.args, keywords=node.keywords)


class _Rewriter(ast.NodeTransformer):
    """Rewrites asserts (value capture everywhere; one step each where `soft`)."""

    def __init__(self, plan, source, targets):
        self.plan = plan
        self.source = source
        self.targets = targets
        self.soft = False  # asserts here are cases of their own
        self.soft_kind = "assert"
        self.container = None  # the step that runs them

    # Scopes that do not run where they stand: their asserts are ordinary.
    def _scoped(self, node):
        saved = self.soft
        self.soft = False
        self.generic_visit(node)
        self.soft = saved
        return node

    visit_FunctionDef = _scoped
    visit_AsyncFunctionDef = _scoped
    visit_ClassDef = _scoped
    visit_Lambda = _scoped

    def visit_check_body(self, fn):
        saved, saved_kind = self.soft, self.soft_kind
        self.soft, self.soft_kind = True, "check_assert"
        fn.body = self._body(fn.body)
        fn.decorator_list = [self.visit(d) for d in fn.decorator_list]
        self.soft, self.soft_kind = saved, saved_kind
        return fn

    def _body(self, stmts):
        out = []
        for s in stmts:
            r = self.visit(s)
            if r is None:
                continue
            out.extend(r if isinstance(r, list) else [r])
        return out or [ast.Pass()]

    def visit_Assert(self, node):
        site = self._site(node)
        stmts = self._capture(node, site)
        if not self.soft:
            return stmts
        text = self.plan.sites[site]["expr"]
        step = self.plan.add_step(self.soft_kind, "assert " + text, node.lineno, "tests",
                                  counted=True, parent=self.container)
        self.plan.sites[site]["step"] = step
        return self._wrap(step, stmts)

    def _site(self, node):
        if len(self.plan.sites) >= SITE_LIMIT:
            raise PlanError("the tests have more than %d assert statements" % SITE_LIMIT)
        info = {"line": node.lineno, "expr": _src(self.source, node.test), "op": None,
                "call_side": None, "negated": False, "step": None}
        self.plan.sites.append(info)
        return len(self.plan.sites) - 1

    def _wrapped(self, expr):
        w = _CallWrapper(self.targets)
        expr = w.visit(expr)
        return expr, w.found

    def _capture(self, node, site):
        """assert T, M  ->  evaluate the parts once, keep them, fail with them."""
        info = self.plan.sites[site]
        test = node.test
        msg = node.msg if node.msg is not None else _const(None)
        mark = ast.Assign(targets=[_store("_llmrepl_m")], value=_hcall("mark", []))
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            left, lcalls = self._wrapped(test.left)
            right, rcalls = self._wrapped(test.comparators[0])
            info["op"] = _OPS.get(type(test.ops[0]), "?")
            info["call_side"] = "left" if lcalls else ("right" if rcalls else None)
            info["left"] = _src(self.source, test.left)
            info["right"] = _src(self.source, test.comparators[0])
            cond = ast.UnaryOp(op=ast.Not(), operand=ast.Compare(
                left=_name("_llmrepl_l"), ops=test.ops, comparators=[_name("_llmrepl_r")]))
            body = [
                mark,
                ast.Assign(targets=[_store("_llmrepl_l")], value=left),
                ast.Assign(targets=[_store("_llmrepl_r")], value=right),
                ast.If(test=cond, body=[ast.Expr(_hcall("afail", [
                    _const(site), _name("_llmrepl_m"), _name("_llmrepl_l"), _name("_llmrepl_r"),
                    msg]))], orelse=[]),
            ]
        else:
            negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
            inner = test.operand if negated else test
            value, calls = self._wrapped(inner)
            info["negated"] = negated
            info["call_side"] = "left" if calls else None
            cond = _name("_llmrepl_v") if negated else ast.UnaryOp(op=ast.Not(),
                                                                  operand=_name("_llmrepl_v"))
            body = [
                mark,
                ast.Assign(targets=[_store("_llmrepl_v")], value=value),
                ast.If(test=cond, body=[ast.Expr(_hcall("afail", [
                    _const(site), _name("_llmrepl_m"), _name("_llmrepl_v"), _name(NOVALUE),
                    msg]))], orelse=[]),
            ]
        for s in body:
            _locate(s, node)
        return body

    def _wrap(self, step, stmts):
        """if _llmrepl_.enter(step):
               try: <stmts>; _llmrepl_.ok(step)
               except BaseException as _llmrepl_e: _llmrepl_.fail(step, _llmrepl_e)"""
        handler = ast.ExceptHandler(type=_name("BaseException"), name="_llmrepl_e", body=[
            ast.Expr(_hcall("fail", [_const(step), _name("_llmrepl_e")]))])
        tryn = ast.Try(body=list(stmts) + [ast.Expr(_hcall("ok", [_const(step)]))],
                       handlers=[handler], orelse=[], finalbody=[])
        return _locate(ast.If(test=_hcall("enter", [_const(step)]), body=[tryn], orelse=[]),
                       stmts[0])

    # Blocks inside a soft scope keep it (loops of asserts in check()).
    def generic_visit(self, node):
        for field, old in ast.iter_fields(node):
            if isinstance(old, list) and old and isinstance(old[0], ast.stmt):
                setattr(node, field, self._body(old))
            elif isinstance(old, list):
                new = []
                for v in old:
                    if isinstance(v, ast.AST):
                        v = self.visit(v)
                        if v is None:
                            continue
                    new.append(v)
                setattr(node, field, new)
            elif isinstance(old, ast.AST):
                setattr(node, field, self.visit(old))
        return node


def _is_testcase(cls):
    for b in cls.bases:
        name = b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "")
        if name.endswith("TestCase"):
            return True
    return False


class Plan:
    def __init__(self):
        self.steps = []  # dicts: i, kind, name, line, file, counted, container
        self.sites = []
        self.solution_code = None
        self.tests_code = None  # the rewritten tests as one code object, or
        self.tests_units = None  # as [(step or None, code)], one per statement
        self.targets = set()
        self.forms = []
        self.entry_point = None
        self.entry_inferred = False
        self.check_step = None
        self.check_calls_itself = False
        self.check_ahead = []  # check()'s calls the judge may send ahead (llmrepl_ahead)
        self.check_line = None
        self.test_funcs = []  # (step, name)
        self.unittests = []  # (step, class, method)
        self.doctests = []  # (DocTest, [steps])
        self.load_step = None

    def add_step(self, kind, name, line, file, counted, container=False, parent=None):
        if len(self.steps) >= STEP_LIMIT:
            raise PlanError("the tests have more than %d cases and statements" % STEP_LIMIT)
        self.steps.append({"i": len(self.steps), "kind": kind, "name": name, "line": line,
                           "file": file, "counted": counted, "container": container,
                           "parent": parent})
        return len(self.steps) - 1


def _doctests_from(tree, source, name, filename, plan, transcript=None):
    parser = doctest.DocTestParser()
    found = []
    if transcript is not None:
        found.append(("tests", transcript, 0, "tests"))
    else:
        nodes = [(name, tree)]
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                nodes.append((node.name, node))
        for owner, node in nodes:
            body = getattr(node, "body", None)
            if not body or not isinstance(body[0], ast.Expr):
                continue
            c = body[0].value
            if isinstance(c, ast.Constant) and isinstance(c.value, str) and ">>>" in c.value:
                found.append((owner, c.value, c.lineno - 1, "solution"))
    for owner, text, lineno, file in found:
        try:
            test = parser.get_doctest(text, {}, owner, filename, lineno)
        except ValueError as e:
            raise PlanError("doctest in %s does not parse: %s" % (owner, e)) from None
        steps = []
        for ex in test.examples:
            line = lineno + ex.lineno + 1
            steps.append(plan.add_step("doctest", "%s: >>> %s" % (owner, _short(ex.source)),
                                       line, file, counted=True))
        if steps:
            found_test = test
            plan.doctests.append((found_test, steps))


def is_transcript(tests):
    for line in tests.splitlines():
        if line.strip():
            return line.lstrip().startswith(">>>")
    return False


def build(code_tree, code, tests, entry_point, doctests="auto", tests_tree=None, row=None):
    """Build the plan. code_tree is the parsed code; tests_tree the parsed tests
    (None when there are none or they are a doctest transcript); row, when
    given, check()'s calls to send ahead as llmrepl_ahead.early found them
    (the same as planning finds)."""
    plan = Plan()
    plan.targets = set(top_level_names(code_tree)) | {TARGET_CANDIDATE}
    if entry_point:
        plan.targets.add(entry_point)
    plan.load_step = plan.add_step("load", "run the code", 1, "solution", counted=False,
                                   container=True)
    # From the text: compiling the AST objects back is several times slower.
    # What parses and still does not compile ("return" outside a function,
    # "nonlocal" at module level) is the code's error, not the tests'.
    try:
        plan.solution_code = compile(code, "<solution>", "exec", dont_inherit=True)
    except SyntaxError as e:
        raise CodeError(e) from None
    plan.entry_point = entry_point or None

    if tests is not None and tests_tree is None and is_transcript(tests):
        plan.forms.append("doctest")
        _doctests_from(None, tests, "tests", "<tests>", plan, transcript=tests)
    elif tests_tree is not None:
        _plan_tests(plan, tests_tree, tests, code_tree, row)
    if doctests == "always" or (doctests == "auto" and tests is None):
        before = len(plan.doctests)
        _doctests_from(code_tree, code, "module", "<solution>", plan)
        if len(plan.doctests) > before and "doctest" not in plan.forms:
            plan.forms.append("doctest")
    return plan


def _rewrite_ast(plan, tree, source, check_fn):
    """Rewrite the tests' AST: the general way, for what the text rewrite
    does not take (see llmrepl_textplan)."""
    rw = _Rewriter(plan, source, plan.targets)
    new_body = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            new_body.append(node)
            continue
        if isinstance(node, ast.Assert):
            rw.soft, rw.soft_kind = True, "assert"
            new_body.append(rw.visit(node))
            rw.soft = False
            continue
        if node is check_fn:
            new_body.append(rw.visit_check_body(node))
            continue
        container = _contains_soft(node)
        step = plan.add_step("setup", _short(_src(source, node) or type(node).__name__),
                             node.lineno, "tests", counted=False, container=container)
        rw.soft, rw.soft_kind, rw.container = container, "assert", step
        r = rw.visit(node)
        rw.soft, rw.container = False, None
        stmts = r if isinstance(r, list) else [r]
        new_body.append(rw._wrap(step, stmts))
    tree.body = new_body
    try:
        plan.tests_code = compile(tree, "<tests>", "exec", dont_inherit=True)
    except (TypeError, ValueError):  # a new node without a position: give it one
        ast.fix_missing_locations(tree)
        plan.tests_code = compile(tree, "<tests>", "exec", dont_inherit=True)


def _plan_tests(plan, tree, text, code_tree, row=None):
    source = Source(text)
    check_fn = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "check" and node.args.args:
            check_fn = node
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "check"):
            plan.check_calls_itself = True
    tests_fns = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and n.name.startswith("test")]
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and _is_testcase(n)]
    if check_fn is not None and not plan.entry_point and not plan.check_calls_itself:
        fns = function_names(code_tree)
        if tests_fns or classes:
            check_fn = None  # a helper of the test functions, not HumanEval's check
        elif len(fns) == 1:
            plan.entry_point = fns[0]
            plan.entry_inferred = True
        else:
            raise PlanError("the tests define check(candidate) but no entry point was given, "
                            "and the code defines %s" % (
                                "no function" if not fns else
                                "%d functions (%s)" % (len(fns), ", ".join(fns[:8]))))
    if check_fn is not None and plan.entry_point:
        plan.targets.add(plan.entry_point)

    if not llmrepl_textplan.rewrite(plan, tree, source, check_fn):
        _rewrite_ast(plan, tree, source, check_fn)

    if any(s["kind"] == "assert" for s in plan.steps):
        plan.forms.append("asserts")
    if check_fn is not None:
        plan.forms.append("check")
        if not plan.check_calls_itself:
            plan.check_step = plan.add_step("check", "check(%s)" % plan.entry_point,
                                            check_fn.lineno, "tests", counted=False,
                                            container=True)
            for s in plan.steps:
                if s["kind"] == "check_assert":
                    s["parent"] = plan.check_step
            plan.check_ahead = row if row else llmrepl_ahead.calls(check_fn, code_tree,
                                                                   len(text))
            plan.check_line = check_fn.lineno
    for fn in tests_fns:
        plan.test_funcs.append((plan.add_step("test", fn.name, fn.lineno, "tests", True),
                                fn.name))
    if tests_fns:
        plan.forms.append("pytest")
    for cls in classes:
        for m in cls.body:
            if isinstance(m, ast.FunctionDef) and m.name.startswith("test"):
                step = plan.add_step("unittest", "%s.%s" % (cls.name, m.name), m.lineno,
                                     "tests", True)
                plan.unittests.append((step, cls.name, m.name))
    if classes:
        plan.forms.append("unittest")
