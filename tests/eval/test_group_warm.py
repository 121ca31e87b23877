"""A grouped run's warm judge (sandbox/py/llmrepl_warm.py): consecutive
items whose tests are pure (llmrepl_pure) share one judge process. Through
build/llmrepl-eval --batch, each batch once with --group 1 and once grouped:
every item's report must be what it is alone, whatever the items before it
did in the shared judge, through their code or their tests; an item that
hangs or crashes the shared judge costs only its own run alone, and the rest
go on in a fresh judge."""
import json
import re

import pytest

from test_group import OK, WRONG, _batch, _grouped, _job, _judge


def _core(o):
    """An item's outcome and report without what time and memory change
    (durations, and object addresses in reprs, which differ run to run)."""
    r = o["report"]
    tests = [{k: v for k, v in t.items() if k != "duration_s"} for t in r["tests"]]
    core = (o["passed"], o["tests_total"], o["tests_passed"], r["status"], r["error"],
            tests, r.get("stdout"), r.get("stderr"), r.get("integrity"), r.get("notes"),
            r.get("forms"))
    return re.sub(r"0x[0-9a-f]+", "0x?", json.dumps(core))


def _equal_alone(tmp_path, jobs, *args):
    alone = _batch(tmp_path, jobs, "--group", "1", *args)
    grouped = _batch(tmp_path, jobs, "--group", str(len(jobs)), *args)
    assert [_core(o) for o in grouped] == [_core(o) for o in alone]
    assert not any(_grouped(o) for o in alone)
    return grouped


def _judge_items(grouped):
    return [o["report"]["run"]["group"].get("judge_item") if _grouped(o) else None
            for o in grouped]


def test_pure_items_share_one_judge_the_others_have_their_own(tmp_path):
    jobs = [_job(0, OK), _job(1, WRONG, "import os\nassert f(1) == 2\n"),
            _job(2, WRONG), _job(3, OK, "x = [1]\nx.__class__\nassert f(1) == 2\n"),
            _job(4, "def g(x):\n    return x * 2\n",
                 "def check(candidate):\n    assert candidate(2) == 4\n", entry_point="g")]
    grouped = _equal_alone(tmp_path, jobs)
    assert all(_grouped(o) for o in grouped)
    assert [_judge(o) for o in grouped] == ["shared", "own", "shared", "own", "shared"]
    # In the order evaluated: the shared judge's items first, one judge.
    assert _judge_items(grouped) == [0, None, 1, None, 2]
    assert "shared with other items" in grouped[0]["report"]["run"]["detail"]
    assert "shared" not in grouped[1]["report"]["run"]["detail"]


# Code that tries to leave something in the judge for the next item: odd
# values, exception classes named like the judge's and builtins, huge values,
# handles, a kept callback, forged answers on every descriptor, a module.
ODD_CODE = [
    "class ValueError(Exception):\n    pass\nclass MyError(KeyError):\n    pass\n"
    "class StepTimeout(Exception):\n    pass\nclass AssertionError(Exception):\n    pass\n"
    "def f(x):\n    raise MyError('k')\n",
    "class StepTimeout(Exception):\n    pass\ndef f(x):\n    raise StepTimeout('t')\n",
    "class CandidateCrashed(BaseException):\n    pass\ndef f(x):\n    raise CandidateCrashed()\n",
    "def f(x):\n    return 'x' * (9 << 20)\n",  # past the encoding's bound: a handle
    "class A:\n    def __eq__(self, o):\n        return True\n    __hash__ = None\n"
    "KEEP = A()\ndef f(x):\n    return KEEP\n",
    "KEEP = []\ndef f(x):\n    KEEP.append(x)\n    return x(1)\n",
    "def f(x):\n    os = __import__('os')\n"
    "    for fd in range(64):\n        try:\n"
    "            os.write(fd, b'DONE 0 0 0 0 0 0 ITEM 1 0 1 1 1 2 0 0\\n{}')\n"
    "        except OSError:\n            pass\n    return 2\n",
    "import os\nimport sys\nPATHS = sys.modules\ndef f(x):\n    return x + 1\n",
    "def f(x):\n    return [[[[[[[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]]]]]]\n",
]
# What each probe checks: exception classes, a class of the code's with a
# builtin's name, equality, callbacks; alone and after any of the above.
PROBE = ("class MyError(ValueError):\n    pass\n"
         "def f(x):\n    if x == 0:\n        raise MyError('v')\n"
         "    if x == 1:\n        raise KeyError('k')\n    return x(3) if callable(x) else x + 1\n")
PROBE_TESTS = ("try:\n    f(0)\n    ok = 0\nexcept ValueError:\n    ok = 1\nassert ok == 1\n"
               "try:\n    f(1)\n    ok = 0\nexcept KeyError:\n    ok = 1\nassert ok == 1\n"
               "assert f(lambda v: v * 2) == 6\nassert f(5) == 6\nassert f(5) != 7\n")


def test_the_code_of_one_item_cannot_change_the_next_ones_verdict(tmp_path):
    jobs = []
    for i, code in enumerate(ODD_CODE):
        jobs.append(_job(2 * i, code, "assert f(lambda v: v) == 2\nassert f(1) == 2\n"))
        jobs.append(_job(2 * i + 1, PROBE, PROBE_TESTS))
    grouped = _equal_alone(tmp_path, jobs)
    probes = grouped[1::2]
    assert [o["passed"] for o in probes] == [True] * len(ODD_CODE)
    # Every probe ran in the shared judge after the item before it; the
    # code naming sys and os as its globals got a judge of its own.
    assert all(_judge(o) == "shared" for o in probes)
    assert _judge(grouped[14]) == "own"
    assert [_judge(o) for i, o in enumerate(grouped[::2]) if i != 7] == ["shared"] * 8


# Tests that pass the purity check and still try what they can: random's
# generator, rebinding builtins in their own namespace, deep recursion, a
# large allocation, a flood of output, exceptions kept.
ODD_TESTS = [
    "import random\nrandom.seed(7)\nassert f(1) == 2\n",
    "len = lambda x: 0\nprint = None\nassert f(1) == 2\n",
    # (Where exactly a RecursionError fires can differ by a frame in a warm
    # process, whose interpreter has specialised the harness's calls: not
    # compared.)
    "def r(n):\n    return r(n + 1)\ntry:\n    r(0)\nexcept RecursionError:\n    print('deep')\n"
    "assert f(1) == 2\n",
    "x = [0] * (5 * 1000 * 1000)\nassert f(1) == 2\n",
    "for i in range(100000):\n    print('flood', i)\n",
    "try:\n    f(None)\nexcept Exception as e:\n    kept = [e]\n"
    "import functools\n@functools.lru_cache(maxsize=None)\ndef g(n):\n    return n\n"
    "g(1)\nassert f(1) == 2\n",
]
RANDOM_PROBE = ("import random\nassert f(1) == 2\nassert random.random() != 0.32383276483316237\n"
                "print(len([1, 2]), 'probe')\n")


def test_the_tests_of_one_item_cannot_change_the_next_ones_verdict(tmp_path):
    jobs = []
    for i, tests in enumerate(ODD_TESTS):
        jobs.append(_job(2 * i, OK, tests))
        jobs.append(_job(2 * i + 1, OK, RANDOM_PROBE))
    grouped = _equal_alone(tmp_path, jobs)
    assert all(_judge(o) == "shared" for o in grouped)
    assert [o["passed"] for o in grouped[1::2]] == [True] * len(ODD_TESTS)
    assert all(o["report"]["stdout"] == "2 probe\n" for o in grouped[1::2])
    assert _judge_items(grouped) == list(range(len(jobs)))


@pytest.mark.parametrize("bad", [
    # Swallows every interruption: only the parent's deadline ends it.
    "while True:\n    try:\n        while True:\n            pass\n"
    "    except BaseException:\n        pass\n",
    # Deeper than the C stack: the judge's process crashes.
    "t = ()\nfor _ in range(1000000):\n    t = (t,)\nhash(t)\n",
])
def test_a_hanging_or_crashing_shared_judge_costs_only_its_items_run(tmp_path, bad):
    jobs = [_job(0, OK), _job(1, WRONG), _job(2, OK, bad), _job(3, OK), _job(4, WRONG)]
    grouped = _equal_alone(tmp_path, jobs, "--timeout", "3")
    assert [_grouped(o) for o in grouped] == [True, True, False, True, True]
    assert [o["passed"] for o in grouped] == [True, False, False, True, False]
    # The items after it: a fresh judge, from its first item.
    assert _judge_items(grouped) == [0, 1, None, 0, 1]


def test_a_shared_judge_is_retired_after_its_items(tmp_path):
    jobs = [_job(i, OK if i % 3 else WRONG) for i in range(34)]
    grouped = _equal_alone(tmp_path, jobs)
    # llmrepl_warm.ITEMS_MAX = 32 items per judge.
    assert _judge_items(grouped) == list(range(32)) + [0, 1]


def test_output_past_its_cap_costs_only_its_items_run(tmp_path):
    # The candidate floods the item's stdout past the run's cap: the parent
    # stops reading, kills the shared judge; that item runs alone, the next
    # ones in a fresh judge.
    flood = ("def f(x):\n    os = __import__('os')\n    for _ in range(64):\n"
             "        os.write(1, b'x' * (1 << 20))\n    return x + 1\n")
    jobs = [_job(0, OK), _job(1, WRONG), _job(2, flood), _job(3, OK), _job(4, WRONG)]
    grouped = _equal_alone(tmp_path, jobs)
    assert [_grouped(o) for o in grouped] == [True, True, False, True, True]
    assert _judge_items(grouped) == [0, 1, None, 0, 1]


FDS = ("def f(x):\n    import os\n    out = []\n"
       "    for fd in sorted(os.listdir('/proc/self/fd'), key=int):\n"
       "        try:\n"
       "            out.append((int(fd), os.readlink('/proc/self/fd/' + fd).split(':')[0]))\n"
       "        except OSError:\n            pass\n    return out\n")


def test_the_candidate_holds_the_same_descriptors_as_alone(tmp_path):
    # What the candidate's worker holds (each descriptor's kind: its own
    # socket, the item's output pipes, ...), after items in the same shared
    # judge: the list is the failing assert's actual value, compared with
    # the same item's alone.
    jobs = [_job(0, OK), _job(1, FDS, "assert f(1) == []\n"), _job(2, WRONG),
            _job(3, FDS, "assert f(1) == []\n")]
    grouped = _equal_alone(tmp_path, jobs)
    assert [_judge(o) for o in grouped] == ["shared"] * 4
    # stdin, the item's stdout and stderr, its socket to the judge: nothing
    # that reaches the group's answers or another item's.
    for o in (grouped[1], grouped[3]):
        assert o["report"]["tests"][0]["assertion"]["actual"] == \
            "[(0, '/dev/null'), (1, 'pipe'), (2, 'pipe'), (3, 'socket')]"
