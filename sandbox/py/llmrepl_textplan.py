"""llmrepl_textplan - rewrite the tests' asserts as text, compiled by C.

The same rewrite as llmrepl_plan's AST transformer, done as edits of the
source text instead of new AST nodes (which Python builds slowly and
compile() converts back slowly): an assert statement

    assert candidate(x) == y, msg

becomes, on the same lines,

    _llmrepl_.soft(STEP, SITE, lambda: (_llmrepl_.call(candidate, x)), lambda: (y),
                   lambda: (msg))

(`hard(SITE, ...)` inside test functions and helpers), so the harness can
evaluate each side once, compare, and keep the values of a failing check.
Every replaced region keeps its newlines, so every line keeps its number.
Each top-level statement is compiled on its own, which lets the runner give
the setup statements steps of their own without wrapping them in code.

Not taken here (the caller falls back to the AST rewrite): `from __future__`
imports, two top-level statements on one line, and asserts whose expressions
hold an assignment expression, a yield or an await (a lambda would change
their meaning) or that stand in a class body (a lambda there cannot see the
class's names).
"""
import ast

import llmrepl_planbase as base

H = "_llmrepl_"
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_NO_LAMBDA = (ast.NamedExpr, ast.Yield, ast.YieldFrom, ast.Await)


class _Fallback(Exception):
    pass


class _Text:
    """The tests' source as UTF-8 bytes, addressed by AST (line, byte column)."""

    def __init__(self, source):
        self.lines = [ln.encode("utf-8") for ln in source.lines]
        self.starts = []
        pos = 0
        for ln in self.lines:
            self.starts.append(pos)
            pos += len(ln)
        self.data = b"".join(self.lines)

    def at(self, line, col):
        return self.starts[line - 1] + col

    def start(self, node):
        return self.at(node.lineno, node.col_offset)

    def end(self, node):
        return self.at(node.end_lineno, node.end_col_offset)

    def paren_after(self, pos):
        """Offset of the '(' that follows pos across blanks, or -1."""
        d = self.data
        while pos < len(d):
            c = d[pos:pos + 1]
            if c in (b" ", b"\t", b"\n", b"\r", b"\f"):
                pos += 1
            elif d[pos:pos + 2] in (b"\\\n", b"\\\r"):
                pos += 2
            else:
                return pos if c == b"(" else -1
        return -1


def _statement_start(node):
    lines = [node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]
    return min(lines)


def rewrite(plan, tree, source, check_fn):
    """Plan the tests as text edits. Returns False (having changed nothing)
    when the AST rewrite must do it."""
    body = tree.body
    for a, b in zip(body, body[1:]):
        if a.end_lineno >= _statement_start(b):
            return False  # two statements on one line
    if any(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in body):
        return False
    text = _Text(source)
    steps_before, sites_before = len(plan.steps), len(plan.sites)
    w = _Writer(plan, text, source)
    units = []
    try:
        for node in body:
            if isinstance(node, ast.Assert):
                w.container = None
                w.statements([node], soft="assert")
                units.append((None, node))
            elif node is check_fn:
                w.container = None
                w.statements(node.body, soft="check_assert")
                units.append((None, node))
            else:
                container = base.contains_soft(node)
                name = base.short(base.src(source, node)
                                           or type(node).__name__)
                k = plan.add_step("setup", name, node.lineno, "tests", counted=False,
                                  container=container)
                w.container = k
                w.statements([node], soft="assert" if container else None)
                units.append((k, node))
        new = w.apply()
    except _Fallback:
        del plan.steps[steps_before:]
        del plan.sites[sites_before:]
        return False
    lines = new.split(b"\n")
    plan.tests_units = []
    for k, node in units:
        first, last = _statement_start(node), node.end_lineno
        chunk = b"\n" * (first - 1) + b"\n".join(lines[first - 1:last]) + b"\n"
        try:
            code = compile(chunk.decode("utf-8"), "<tests>", "exec", dont_inherit=True)
        except SyntaxError:
            del plan.steps[steps_before:]
            del plan.sites[sites_before:]
            plan.tests_units = None
            return False  # an edit this module got wrong: the AST rewrite is right
        plan.tests_units.append((k, code))
    return True


class _Writer:
    def __init__(self, plan, text, source):
        self.plan = plan
        self.text = text
        self.source = source
        self.edits = []  # (start, end, bytes)
        self.container = None

    # ---- walking statements, tracking what kind of assert each one is ---------
    def statements(self, stmts, soft):
        for s in stmts:
            self.node(s, soft, in_class=False)

    def node(self, n, soft, in_class):
        if isinstance(n, ast.Assert):
            if in_class:
                raise _Fallback()
            self.assert_(n, soft)
            return
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            soft, in_class = None, False
        elif isinstance(n, ast.ClassDef):
            soft, in_class = None, True
        for child in base.children(n):
            self.node(child, soft, in_class)

    # ---- one assert ---------------------------------------------------------------
    def assert_(self, node, soft):
        plan, t = self.plan, node.test
        for sub in (t, node.msg):
            if sub is not None and any(isinstance(x, _NO_LAMBDA) for x in base.walk(sub)):
                raise _Fallback()
        if len(plan.sites) >= base.SITE_LIMIT:
            raise base.PlanError("the tests have more than %d assert statements"
                                 % base.SITE_LIMIT)
        src = base.src
        info = {"line": node.lineno, "expr": src(self.source, t), "op": None,
                "call_side": None, "negated": False, "step": None}
        site = len(plan.sites)
        plan.sites.append(info)
        if soft is not None:
            k = plan.add_step(soft, "assert " + info["expr"], node.lineno, "tests",
                              counted=True, parent=self.container)
            info["step"] = k
            head = "%s.soft(%d, %d, " % (H, k, site)
        else:
            head = "%s.hard(%d, " % (H, site)
        tx = self.text
        s0, s1 = tx.start(node), tx.end(node)
        if isinstance(t, ast.Compare) and len(t.ops) == 1:
            left, right = t.left, t.comparators[0]
            info["op"] = base.OPS.get(type(t.ops[0]), "?")
            lc, rc = self.calls(left), self.calls(right)
            info["call_side"] = "left" if lc else ("right" if rc else None)
            info["left"] = src(self.source, left)
            info["right"] = src(self.source, right)
            self.region(s0, tx.start(left), head + "lambda: (")
            self.region(tx.end(left), tx.start(right), "), lambda: (")
            last, to_msg, no_msg = right, "), lambda: (", "), None)"
        else:
            negated = isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not)
            value = t.operand if negated else t
            info["negated"] = negated
            info["call_side"] = "left" if self.calls(value) else None
            self.region(s0, tx.start(value), head + "lambda: (")
            last, to_msg, no_msg = value, "), None, lambda: (", "), None, None)"
        if node.msg is not None:
            self.calls(node.msg)
            self.region(tx.end(last), tx.start(node.msg), to_msg)
            self.region(tx.end(node.msg), s1, "))")
        else:
            self.region(tx.end(last), s1, no_msg)

    def region(self, a, b, text):
        """Replace [a, b) by text, keeping the newlines it held."""
        if b < a:
            raise _Fallback()
        nl = self.text.data[a:b].count(b"\n")
        self.edits.append((a, b, text.encode() + b"\n" * nl))

    def calls(self, expr):
        """Route the calls of the code under test in expr through the harness.
        Returns how many were routed."""
        n = 0
        todo = [expr]
        while todo:
            x = todo.pop()
            if isinstance(x, ast.Lambda):
                continue  # its calls run later, outside the assert
            if isinstance(x, ast.Call) and base.is_target(x.func, self.plan.targets):
                p = self.text.paren_after(self.text.end(x.func))
                if p >= 0:
                    a = self.text.start(x.func)
                    self.edits.append((a, a, (H + ".call(").encode()))
                    self.edits.append((p, p + 1, b", " if (x.args or x.keywords) else b""))
                    n += 1
            todo.extend(base.children(x))
        return n

    def apply(self):
        out = []
        pos = 0
        data = self.text.data
        for a, b, text in sorted(self.edits, key=lambda e: (e[0], e[1])):
            if a < pos:
                raise _Fallback()
            out.append(data[pos:a])
            out.append(text)
            pos = b
        out.append(data[pos:])
        return b"".join(out)
