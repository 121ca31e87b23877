"""llmrepl_pure: which tests may share a warm judge. A whitelist: every way
out of the tests' own objects found here must be refused, HumanEval's tests
(and plain tests of the usual forms) accepted, and no listed module may hold
an object the whitelist does not mean under a name it allows."""
import ast
import gzip
import json
import sys
import types

import pytest

from evalkit import PY_DIR

sys.path.insert(0, str(PY_DIR))
import llmrepl_pure as pure  # noqa: E402

DATA = PY_DIR.parent.parent.parent / "shared" / "datasets" / "HumanEval.jsonl.gz"


def verdict(src):
    return pure.impure(ast.parse(src))


@pytest.mark.parametrize("src", [
    "import os\nassert f(1) == 2\n",
    "import sys\n",
    "import copy\ncopy.dispatch_table.clear()\n",
    "from copy import dispatch_table\n",
    "import operator\nx = operator.attrgetter('gi_frame')\n",
    "import operator\nx = operator.methodcaller('kill')\n",
    "import collections\ncollections.abc.Sequence.register(list)\n",
    "import collections.abc\n",
    "from collections import *\n",
    "from . import x\n",
    "import decimal\n",
    "import math as _m\n",
    "__import__('os')\n",
    "x = open('/work/f', 'w')\n",
    "exec('1')\n", "eval('1')\n", "compile('1', 'x', 'exec')\n",
    "getattr(f, 'x')\n", "setattr(f, 'x', 1)\n", "delattr(f, 'x')\n", "hasattr(f, 'x')\n",
    "globals()\n", "locals()\n", "vars(f)\n", "dir(f)\n", "type(f)\n", "input()\n",
    "breakpoint()\n", "memoryview(b'x')\n",
    "f.x = 1\n", "del f.x\n", "f.x += 1\n", "f.x: int = 1\n",
    "f[0] = 1\n",  # an item of something the tests did not bind
    "del f[0]\n",
    "def g():\n    global x\n    x = 1\n",
    "def g():\n    x = 1\n    def h():\n        nonlocal x\n        x = 2\n",
    "x = f.__class__\n", "x = f._r\n", "_llmrepl_.ok(0)\n", "x = __builtins__\n",
    "def __eq__(a, b):\n    return True\n",
    "def g(_x):\n    pass\n", "g(_x=1)\n",
    "def g():\n    yield 1\n", "x = (i for i in [1])\nx.gi_frame\n",
    "def g():\n    return 1\nx = g.__code__\n",
    "try:\n    f()\nexcept Exception as e:\n    e.with_traceback(None)\n",
    "'{0.__class__}'.format(f)\n", "'{x}'.format_map({})\n",
    "with f() as x:\n    pass\n",
    "class A(f):\n    pass\n",  # a base of the code's
    "class A(metaclass=type):\n    pass\n",
    "@f\nclass A:\n    pass\n",
    "async def g():\n    pass\n",
    "match f:\n    case 1:\n        pass\n",
    "if False:\n    open = print\nopen('x')\n",  # a builtin name is refused even if bound
    "lambda: f.f_back\n",
    # A method name of the tests' own does not open a module's name.
    "import copy\nclass A:\n    def dispatch_table(self):\n        pass\n"
    "copy.dispatch_table.clear()\n",
])
def test_every_way_out_is_refused(src):
    assert verdict(src) is not None


@pytest.mark.parametrize("src", [
    "assert f(1) == 2\n",
    "def check(candidate):\n    assert candidate([1, 2]) == [2, 1]\n"
    "    assert abs(candidate(1.5) - 2) < 1e-6\n",
    "import math\nimport random\nfrom random import randint\n"
    "def check(candidate):\n    for _ in range(10):\n        x = random.randint(0, 9)\n"
    "        assert candidate(x) == math.floor(x)\n",
    "import copy\nimport string\nxs = [1, 2]\nys = copy.deepcopy(xs)\nys[0] = 5\n"
    "assert f(string.ascii_lowercase.upper()) == 'x'\n",
    "def test_g():\n    d = {}\n    d['a'] = 1\n    del d['a']\n    assert f(d) is None\n",
    "class Helper:\n    def count(self, x):\n        return x * 2\n"
    "class Sub(Helper):\n    pass\nclass E(ValueError):\n    pass\n"
    "try:\n    f(Sub().count(1))\nexcept (E, KeyError) as e:\n    print(str(e))\n",
    "import collections\nc = collections.Counter('abc')\nassert f(c.most_common(1))\n",
    "print(f'{f(1)!r:>10}')\n",
    "for _ in range(3):\n    assert f(_) is not None\n",
    "import itertools, functools, heapq, bisect, fractions, statistics, re, operator\n"
    "assert f(list(itertools.chain([1], [2])), functools.reduce(operator.add, [1, 2]))\n",
])
def test_plain_tests_are_pure(src):
    assert verdict(src) is None


@pytest.mark.skipif(not DATA.exists(), reason="HumanEval data not present")
def test_humaneval_tests_are_all_pure():
    with gzip.open(DATA, "rt") as f:
        tests = [json.loads(line)["test"] for line in f]
    assert len(tests) == 164
    assert [t for t in tests if verdict(t) is not None] == []


def test_no_listed_module_holds_something_unmeant_under_an_allowed_name():
    """The attribute whitelist is one set for every object; for each listed
    module, every name of that set it has must be one it lists, or the same
    object as one that some listed module lists, or something nothing can
    change through (an immutable constant, an exception class, a listed
    module)."""
    attrs = pure._attrs()
    listed = {m: pure._module_names(m) for m in pure.MODULES}
    meant = {id(getattr(__import__(m), a)) for m, names in listed.items() for a in names}
    odd = []
    for m in pure.MODULES:
        mod = __import__(m)
        for a in attrs:
            if a in listed[m] or not hasattr(mod, a):
                continue
            v = getattr(mod, a)
            if id(v) in meant or isinstance(v, (int, float, complex, str, bytes, tuple,
                                                frozenset, type(None))):
                continue
            if isinstance(v, type) and issubclass(v, BaseException):
                continue
            if isinstance(v, types.ModuleType) and v.__name__ in pure.MODULES:
                continue
            odd.append((m, a, type(v).__name__))
    assert odd == []


def test_only_listed_modules_may_be_the_codes_modules_in_a_shared_judge():
    assert pure.module_ok("math") and pure.module_ok("random")
    for name in ("os", "sys", "builtins", "llmrepl_judge", "antigravity", "ctypes", "gc"):
        assert not pure.module_ok(name)
