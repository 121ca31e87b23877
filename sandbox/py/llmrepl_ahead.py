"""llmrepl_ahead - the calls of a check(candidate) that can be sent ahead.

HumanEval-style tests are a check(candidate) whose body is a row of asserts
like `assert candidate(1, [2, 3]) == 4`. Split (llmrepl_judge), each call is
a round trip to the candidate's worker. When the arguments are literals and
nothing else in the assert can reach the candidate, the judge knows every
call before check() runs, so it sends them at once (Remote.send_ahead) and
the worker runs them in order while the judge compares: the same calls, in
the same order, with the same values, as one by one.

calls() returns the calls of the leading asserts of check's body that are
each exactly that (an assert of the same kind with no call at all, such as
HumanEval's `assert True, "..."`, is passed over): one call of the parameter with literal arguments, and
otherwise only literals, operators, comparisons and a few builtins that the
code does not redefine (anything else could be one of the code's names,
that is, a proxy whose use would come between two calls). The first
statement that is not such an assert ends the row: whatever follows runs one
call at a time, after the row's answers are all in.
"""
import ast

from llmrepl_planbase import walk

ROW_MAX = 256  # calls sent ahead at once
ARGS_MAX = 32 << 10  # characters of the row's arguments' source
SAFE = frozenset(("abs", "round", "len", "sorted", "set", "list", "tuple", "str", "int",
                  "float", "bool", "sum", "min", "max", "all", "any", "frozenset", "dict",
                  "True", "False", "None", "isinstance", "type", "repr"))


def _bound(code_tree):
    """Every name the code binds anywhere (its module's globals among them)."""
    names = set()
    for n in walk(code_tree):
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            names.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, ast.alias):
            names.add((n.asname or n.name).split(".")[0])
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            names.update(n.names)
    return names


_NOT_LITERAL = object()


def _literal(node):
    """The literal's value, or _NOT_LITERAL."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL


def _one(stmt, param, safe):
    """(args, kwargs) of the assert's one call of param, or None."""
    if not isinstance(stmt, ast.Assert):
        return None
    call = None
    nodes = walk(stmt)
    for n in nodes:
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == param:
            if call is not None:
                return None
            call = n
        elif isinstance(n, ast.Name) and n.id != param and n.id not in safe:
            return None
        elif isinstance(n, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom,
                            ast.Starred, ast.Attribute, ast.Subscript, ast.comprehension)):
            return None
    if call is None:
        return ()  # nothing of the code's: the row goes on past it
    if any(isinstance(n, ast.Name) and n.id == param and n is not call.func
                           for n in nodes):
        return None
    if any(k.arg is None for k in call.keywords):
        return None
    args = tuple(_literal(a) for a in call.args)
    kwargs = {k.arg: _literal(k.value) for k in call.keywords}
    if any(v is _NOT_LITERAL for v in args) or any(v is _NOT_LITERAL for v in kwargs.values()):
        return None
    return args, kwargs


def calls(check_fn, code_tree, source_len):
    """The row of calls to send ahead for check_fn (a FunctionDef), or []."""
    a = check_fn.args
    if check_fn.decorator_list or len(a.args) != 1 or a.vararg or a.kwarg or a.kwonlyargs \
            or a.defaults or a.posonlyargs or source_len > ARGS_MAX * 8:
        return []
    param = a.args[0].arg
    safe = SAFE - _bound(code_tree)
    body = list(check_fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # its docstring
    row = []
    size = 0
    for stmt in body:
        one = _one(stmt, param, safe)
        if one is None or len(row) >= ROW_MAX:
            break
        if not one:
            continue
        size += len(repr(one))
        if size > ARGS_MAX:
            break
        row.append(one)
    return row if len(row) >= 2 else []
