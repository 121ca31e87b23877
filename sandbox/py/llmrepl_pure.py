"""llmrepl_pure - whether a test text can leave nothing behind in the judge.

A grouped run's judge (llmrepl_group, llmrepl_warm) evaluates several items
one after another in ONE warm process when each item's tests are provably
free of lasting side effects on that process. impure(tree) decides that from
the tests' AST alone, by a whitelist: every node type, name, attribute,
import and builtin the tests use must be one of a short list known to touch
nothing but the objects the tests themselves create (or the code's proxies,
whose every operation goes to the candidate's process). Anything else, and
anything this module does not know, is "impure": that item gets a judge of
its own (a fresh fork), as before.

What the whitelist rules out, and why:
- imports other than a few pure stdlib modules (math, itertools, ...), and
  of those modules only the names listed here (copy.dispatch_table,
  operator.attrgetter or collections.abc would reach shared state);
- names and attributes starting with "_" (dunders reach frames, globals,
  classes, the harness's `_llmrepl_`), and attributes outside the methods of
  plain data types and those modules' names (gi_frame, f_back, format...);
- builtins outside a list (no exec, eval, compile, open, getattr, setattr,
  globals, vars, type, __import__, input, breakpoint, ...);
- assigning or deleting an attribute; assigning or deleting an item of
  anything but a name the tests bind themselves;
- global, nonlocal, with, yield, await, async, match, class keywords
  (metaclass=), class bases other than builtins or the tests' own classes,
  `from m import *` and relative or dotted imports.
The judge does the rest at run time (llmrepl_warm): the module names the
code exposes become modules here only when they are on the list, and the
state a pure test may still change through a listed module (random's) is
made fresh per item.
"""
import ast
import builtins

# The modules the tests may import, and the names of each they may use.
MODULES = {
    "math": None,  # every public name: functions and constants only
    "cmath": None,
    "itertools": None,
    "heapq": ("heappush", "heappop", "heapify", "heapreplace", "heappushpop", "nlargest",
              "nsmallest", "merge"),
    "bisect": ("bisect", "bisect_left", "bisect_right", "insort", "insort_left",
               "insort_right"),
    "collections": ("deque", "Counter", "OrderedDict", "defaultdict", "namedtuple",
                    "ChainMap"),
    "functools": ("reduce", "partial", "lru_cache", "cache", "cmp_to_key", "total_ordering"),
    "fractions": ("Fraction",),
    "statistics": ("mean", "fmean", "median", "median_low", "median_high", "mode",
                   "multimode", "stdev", "pstdev", "variance", "pvariance",
                   "geometric_mean", "harmonic_mean", "quantiles", "StatisticsError"),
    "string": ("ascii_letters", "ascii_lowercase", "ascii_uppercase", "digits", "hexdigits",
               "octdigits", "punctuation", "printable", "whitespace", "capwords"),
    "re": ("compile", "search", "match", "fullmatch", "findall", "finditer", "sub", "subn",
           "split", "escape", "error", "IGNORECASE", "I", "MULTILINE", "M", "DOTALL", "S",
           "VERBOSE", "X", "ASCII", "A"),
    "operator": ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "neg", "pos", "abs",
                 "eq", "ne", "lt", "le", "gt", "ge", "not_", "truth", "and_", "or_", "xor",
                 "invert", "lshift", "rshift", "itemgetter", "concat", "contains", "countOf",
                 "indexOf", "index", "is_", "is_not", "matmul"),
    "copy": ("copy", "deepcopy"),
    # Its module-level generator is the judge's: made fresh per item
    # (llmrepl_warm._fresh), as a fresh import would have it.
    "random": None,
    "typing": ("List", "Dict", "Tuple", "Set", "FrozenSet", "Optional", "Union", "Any",
               "Callable", "Iterable", "Iterator", "Sequence", "Mapping", "Counter",
               "OrderedDict", "ChainMap", "DefaultDict", "Deque"),
}

BUILTINS = frozenset((
    "abs", "all", "any", "ascii", "bin", "bool", "bytearray", "bytes", "callable", "chr",
    "classmethod", "complex", "dict", "divmod", "enumerate", "filter", "float", "frozenset",
    "hash", "hex", "id", "int", "isinstance", "issubclass", "iter", "len", "list", "map", "max",
    "min", "next", "object", "oct", "ord", "pow", "print", "property", "range", "repr",
    "reversed", "round", "set", "slice", "sorted", "staticmethod", "str", "sum", "super",
    "tuple", "zip", "True", "False", "None", "Ellipsis", "NotImplemented",
) + tuple(n for n in dir(builtins) if isinstance(getattr(builtins, n), type)
          and issubclass(getattr(builtins, n), BaseException)))

# Methods and attributes of plain data types (the tests' own values and the
# code's results decoded as data).
_DATA_TYPES = (str, bytes, bytearray, list, tuple, dict, set, frozenset, int, float, complex,
               bool, range, slice)
_NOT_ATTRS = frozenset(("format", "format_map", "mro"))  # str.format reads attributes


def _public(obj):
    return [n for n in dir(obj) if not n.startswith("_")]


def _module_names(name):
    names = MODULES[name]
    if names is None:
        names = tuple(_public(__import__(name)))
    return frozenset(names)


def _attrs():
    """Every attribute name the tests may use (on any object: what they can
    reach is data, the code's proxies, and the listed modules, see
    test_pure.py for the check that no listed module has another object
    under one of these names)."""
    out = set()
    for t in _DATA_TYPES:
        out.update(_public(t))
    import collections
    import fractions
    import random
    for t in (collections.deque, collections.Counter, collections.OrderedDict,
              collections.defaultdict, fractions.Fraction, random.Random):
        out.update(_public(t))
    for m in MODULES:
        out.update(_module_names(m))
    return frozenset(out - _NOT_ATTRS)


_ATTRS = None
_MODNAMES = {}

_STMTS = (ast.FunctionDef, ast.ClassDef, ast.Return, ast.Delete, ast.Assign, ast.AugAssign,
          ast.AnnAssign, ast.For, ast.While, ast.If, ast.Raise, ast.Try, ast.Assert,
          ast.Import, ast.ImportFrom, ast.Expr, ast.Pass, ast.Break, ast.Continue)
_EXPRS = (ast.BoolOp, ast.NamedExpr, ast.BinOp, ast.UnaryOp, ast.Lambda, ast.IfExp, ast.Dict,
          ast.Set, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Compare,
          ast.Call, ast.FormattedValue, ast.JoinedStr, ast.Constant, ast.Attribute,
          ast.Subscript, ast.Starred, ast.Name, ast.List, ast.Tuple, ast.Slice)
_OTHER = (ast.Module, ast.expr_context, ast.operator, ast.cmpop, ast.unaryop, ast.boolop,
          ast.comprehension, ast.ExceptHandler, ast.arguments, ast.arg, ast.keyword, ast.alias)
_ALLOWED = _STMTS + _EXPRS + _OTHER


def module_ok(name):
    """Whether a module may be a real module in a shared judge (the code's
    names that are modules, llmrepl_judge.Remote.load)."""
    return name in MODULES


def _bad_ident(s):
    return s is not None and s.startswith("_") and s != "_"


def _bound(nodes):
    """Every name the tests bind anywhere (assignments, loops, arguments,
    definitions, imports, handlers), of the tree's nodes."""
    out = set()
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
        elif isinstance(node, ast.alias):
            out.add(node.asname or node.name)
    return out


def impure(tree):
    """None when the tests (a parsed Module) can leave nothing behind in the
    judge's process; else why not (a short reason)."""
    global _ATTRS
    if _ATTRS is None:
        _ATTRS = _attrs()
    if not isinstance(tree, ast.Module):
        return "not a module"
    # The tree walked once (ast.walk is most of the check's time), its nodes
    # looked at three times in the same order.
    nodes = list(ast.walk(tree))
    bound = _bound(nodes)
    classes = {n.name for n in nodes if isinstance(n, ast.ClassDef)}
    for node in nodes:
        why = _node(node, bound, classes)
        if why is not None:
            return why
    return None


def _node(node, bound, classes):
    if not isinstance(node, _ALLOWED):
        return "uses %s" % type(node).__name__
    if isinstance(node, ast.Name):
        if _bad_ident(node.id):
            return "the name %s" % node.id
        if node.ctx.__class__ is ast.Load and node.id not in BUILTINS and \
                hasattr(builtins, node.id):
            return "the builtin %s" % node.id
        return None
    if isinstance(node, ast.Attribute):
        if not isinstance(node.ctx, ast.Load):
            return "assigns an attribute"
        if node.attr not in _ATTRS:
            return "the attribute %s" % node.attr
        return None
    if isinstance(node, (ast.Subscript, ast.Starred)) and not isinstance(node.ctx, ast.Load):
        root = node.value
        while isinstance(root, (ast.Subscript, ast.Starred)):
            root = root.value
        if isinstance(node, ast.Subscript) and not (isinstance(root, ast.Name) and
                                                    root.id in bound):
            return "assigns an item of something not its own"
        return None
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return _definition(node, classes)
    if isinstance(node, ast.arg) and _bad_ident(node.arg):
        return "the argument %s" % node.arg
    if isinstance(node, ast.keyword) and _bad_ident(node.arg):
        return "the keyword %s" % node.arg
    if isinstance(node, ast.ExceptHandler) and _bad_ident(node.name):
        return "the name %s" % node.name
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return _import(node)
    return None


def _definition(node, classes):
    if _bad_ident(node.name):
        return "the definition %s" % node.name
    if isinstance(node, ast.ClassDef):
        if node.keywords or node.decorator_list:
            return "a class with keywords or decorators"
        for b in node.bases:
            if not (isinstance(b, ast.Name) and (b.id in classes or (
                    b.id in BUILTINS and isinstance(getattr(builtins, b.id, None), type)))):
                return "a class deriving from something not the tests' or a builtin"
    return None


def _import(node):
    if isinstance(node, ast.ImportFrom):
        if node.level or node.module not in MODULES:
            return "imports from %s" % node.module
        names = _MODNAMES.get(node.module)
        if names is None:
            names = _MODNAMES[node.module] = _module_names(node.module)
        for a in node.names:
            if a.name not in names or _bad_ident(a.asname):
                return "imports %s from %s" % (a.name, node.module)
        return None
    for a in node.names:
        if a.name not in MODULES or _bad_ident(a.asname):
            return "imports %s" % a.name
    return None
