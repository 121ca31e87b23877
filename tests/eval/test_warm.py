"""llmrepl_warm's parts in this process: which items may share a warm judge,
what it makes fresh before each item, and when it is retired (its
resident memory, its item count, a DONE that is not clean)."""
import io
import signal
import socket
import sys

import pytest

from evalkit import PY_DIR

sys.path.insert(0, str(PY_DIR))
import llmrepl_judge  # noqa: E402
import llmrepl_warm as warm  # noqa: E402

OK = {"mode": "evaluate", "code": "def f(x):\n    return x + 1\n", "tests": "assert f(1) == 2\n",
      "split": True, "static": False}


@pytest.mark.parametrize("change", [
    {"split": False}, {"static": True}, {"doctests": "always"}, {"session_cells": ["x = 1"]},
    {"tests": None}, {"tests": "  \n"}, {"tests": ">>> f(1)\n2\n"}, {"tests": "assert f(1 ==\n"},
    {"tests": "import os\nassert f(1) == 2\n"}, {"code": None},
])
def test_what_cannot_share_a_judge(change):
    assert warm.shareable(dict(OK, **change)) is None


def test_pure_split_function_tests_share_one():
    assert warm.shareable(dict(OK)) is not None
    assert warm.shareable(dict(OK, doctests="never")) is not None


def test_each_item_finds_the_judge_as_a_fresh_fork_would():
    import random
    saved = (sys.stdout, sys.stderr, sys.stdin, list(sys.argv), sys.getrecursionlimit(),
             signal.getsignal(signal.SIGALRM))
    base = warm._Base()
    try:
        # What an item may have left, by its tests or through the code's
        # names: all of it must be gone for the next.
        sys.setrecursionlimit(50000)
        signal.signal(signal.SIGALRM, lambda *a: None)
        signal.setitimer(signal.ITIMER_REAL, 30)
        sys.stdout, sys.stderr, sys.stdin = io.StringIO(), io.StringIO(), io.StringIO("x")
        sys.argv.append("--left")
        llmrepl_judge.exc_class(["Left", "ValueError", "Exception"])
        llmrepl_judge.REFUSED.append("os")
        random.seed(7)
        warm._fresh(base)
        assert sys.getrecursionlimit() == base.reclimit
        assert signal.getsignal(signal.SIGALRM) is base.alarm
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        assert (sys.stdout, sys.stderr, sys.stdin) == base.streams and sys.argv == base.argv
        assert llmrepl_judge._EXC_CACHE == {} and llmrepl_judge.REFUSED == []
        assert random.random() != 0.32383276483316237  # random.seed(7)'s first
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved[:3]
        sys.argv[:] = saved[3]
        sys.setrecursionlimit(saved[4])
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, saved[5])


def _judge():
    j = warm.Judge([])
    j.ctl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    return j, theirs


def test_a_judge_is_retired_past_its_memory_mark_or_item_count():
    j, theirs = _judge()
    theirs.send(b"DONE 0 0 2000 9 30000 0")
    assert j._done() == (warm.ANSWERED, 2000, 9) and not j.retire
    theirs.send(b"DONE 1 0 2000 9 %d 0" % (30000 + warm.RSS_GROWTH_KB))
    assert j._done() is not None and not j.retire  # at the mark, not past it
    theirs.send(b"DONE 2 0 2000 9 %d 0" % (30001 + warm.RSS_GROWTH_KB))
    assert j._done() is not None and j.retire
    j, theirs = _judge()
    for k in range(warm.ITEMS_MAX):
        assert not j.retire
        theirs.send(b"DONE %d 0 2000 9 30000 0" % k)
        assert j._done() is not None
    assert j.retire and j.count == warm.ITEMS_MAX


@pytest.mark.parametrize("msg", [b"DONE 0 1 2000 9 30000 0", b"DONE 0 0 2000 9 30000 1"])
def test_a_judge_is_retired_after_an_item_it_did_not_answer_cleanly(msg):
    j, theirs = _judge()
    theirs.send(msg)
    assert j._done() is not None and j.retire


@pytest.mark.parametrize("msg", [b"", b"DONE 0 0 2000 9 30000", b"DONE 0 0 -1 9 30000 0",
                                 b"ITEM 0 0 2000 9 30000 0", b"DONE 0 0 2000 9 30000 0 0"])
def test_anything_but_a_done_is_no_answer(msg):
    j, theirs = _judge()
    if msg:
        theirs.send(msg)
    else:
        theirs.close()
    assert j._done() is None
