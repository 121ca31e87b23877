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


def _inert(stmt, check_fn, module):
    """Whether running this top-level statement of the tests can reach the
    code: a literal assigned to plain names, an import of something other
    than the code's module, a docstring, `pass`, check() itself or another
    function defined without decorators, defaults or annotations (defining
    one runs nothing of it)."""
    if stmt is check_fn:
        return True
    if isinstance(stmt, ast.Assign):
        return all(isinstance(t, ast.Name) and t.id != "check" for t in stmt.targets) \
            and _literal(stmt.value) is not _NOT_LITERAL
    if isinstance(stmt, ast.Import):
        return all(a.name.split(".")[0] != module for a in stmt.names)
    if isinstance(stmt, ast.ImportFrom):
        return stmt.level == 0 and (stmt.module or "").split(".")[0] != module \
            and all(a.name != "check" and a.asname != "check" for a in stmt.names)
    if isinstance(stmt, ast.Expr):
        return isinstance(stmt.value, ast.Constant)
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.FunctionDef):
        a = stmt.args
        return stmt.name != "check" and not stmt.name.startswith("test") and \
            not stmt.decorator_list and stmt.returns is None and not a.defaults and \
            not any(d is not None for d in a.kw_defaults) and \
            all(x.annotation is None for x in a.posonlyargs + a.args + a.kwonlyargs +
                [v for v in (a.vararg, a.kwarg) if v is not None])
    return False


def early(tests_tree, code_tree, module, source_len):
    """The row of calls check() will make, to send right behind the code,
    before the tests are planned: only when running the tests up to
    check(candidate) cannot reach the code (every top-level statement is
    inert, see _inert) and check is the runner's to call (defined once, by a
    def without decorators, defaults or annotations, and not called by the
    tests themselves). Then check()'s calls are the first calls of the code
    the tests make, so the row is what send_ahead would send at check(), a
    moment earlier: the worker runs it while the judge plans. [] otherwise."""
    checks = [n for n in tests_tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if len(checks) != 1 or not checks[0].args.args:
        return []
    check_fn = checks[0]
    a = check_fn.args
    if check_fn.returns is not None or any(x.annotation is not None for x in a.args):
        return []
    if not all(_inert(s, check_fn, module) for s in tests_tree.body):
        return []
    return calls(check_fn, code_tree, source_len)

