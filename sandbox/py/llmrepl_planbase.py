"""llmrepl_planbase - what the two ways of planning share (llmrepl_plan's AST
rewrite and llmrepl_textplan's text rewrite): limits, the error, and small
helpers over the tests' syntax tree. It imports neither of them."""
import ast

SITE_LIMIT = 20000  # assert statements in one tests text

OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
       ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}


class PlanError(Exception):
    """The tests (not the code) are unusable; the message says why."""


def src(source, node, limit=200):
    """The node's source text on one line, cut at limit characters."""
    text = " ".join(source.segment(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short(s, limit=80):
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def is_target(func, targets):
    """Whether a call of func calls the code under test: a name in targets,
    or an attribute or call of one (f.x(), f()(), f.x.y())."""
    while isinstance(func, ast.Attribute):
        func = func.value
    if isinstance(func, ast.Call):
        return is_target(func.func, targets)
    return isinstance(func, ast.Name) and func.id in targets


def children(node):
    """ast.iter_child_nodes(node) as a list, in the same order, at about a
    third of the cost (no generators; the plan walks every assert several
    times, and a fresh fork pays for each step of the walk)."""
    out = []
    for f in node._fields:
        v = getattr(node, f, None)
        if type(v) is list:
            for x in v:
                if isinstance(x, _AST):
                    out.append(x)
        elif isinstance(v, _AST):
            out.append(v)
    return out


def walk(node):
    """The nodes ast.walk(node) yields, in the same (breadth-first) order, as
    a list."""
    out = [node]
    add = out.append
    for n in out:  # grows as it goes: each node's children follow the rest
        for f in n._fields:
            v = getattr(n, f, None)
            if type(v) is list:
                for x in v:
                    if isinstance(x, _AST):
                        add(x)
            elif isinstance(v, _AST):
                add(v)
    return out


_AST = ast.AST


def contains_soft(node):
    """Does the node hold an assert outside any function, class or lambda?"""
    return any(isinstance(n, ast.Assert) for n in walk(node)
               if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                     ast.Lambda)))
