"""The in-process run (the default inside the sandbox's throwaway request
child): the same report where the code behaves, and a clean way out where it
does not (the caller then evaluates again, isolated)."""
from evalkit import run_harness, run_inline

HANG = ("import time\n"
        "def f(x):\n"
        "    while x == 2:\n"
        "        pass\n"
        "    while x == 3:\n"
        "        try:\n"
        "            time.sleep(1)\n"
        "        except BaseException:\n"
        "            pass\n"
        "    return x\n")


def test_same_report_in_process_and_isolated():
    req = {"code": "def inc(x):\n    if x > 5:\n        return x\n    return x + 1\n",
           "tests": "def check(candidate):\n    assert candidate(1) == 2\n"
                    "    assert candidate(7) == 8\n    assert candidate(None) == 1\n",
           "entry_point": "inc"}
    status, here = run_inline(req)
    isolated = run_harness([req])[0]
    assert status == 0 and here["isolated"] is False and isolated["isolated"] is True
    strip = ("duration_s", "runs")
    for a, b in zip(here["tests"], isolated["tests"]):
        assert {k: v for k, v in a.items() if k not in strip} == \
               {k: v for k, v in b.items() if k not in strip}
    assert (here["tests_total"], here["tests_passed"]) == (3, 1)


def test_a_hang_in_python_is_stopped_in_process():
    status, ans = run_inline({"code": HANG, "tests": "assert f(1) == 1\nassert f(2) == 2\n"
                                                     "assert f(4) == 4\n",
                              "test_timeout_s": 0.3})
    assert status == 0
    assert [c["status"] for c in ans["tests"]] == ["passed", "timeout", "passed"]


def test_a_swallowed_interruption_ends_the_process_for_isolation():
    status, ans = run_inline({"code": HANG, "tests": "assert f(1) == 1\nassert f(3) == 3\n",
                              "test_timeout_s": 0.3})
    assert (status, ans) == (75, None)


def test_a_crash_leaves_no_answer_in_process():
    status, ans = run_inline({"code": "import os\ndef f():\n    os._exit(9)\n",
                              "tests": "assert f() is None\n"})
    assert (status, ans) == (9, None)


def test_memory_peak_is_the_codes_own():
    status, ans = run_inline({"code": "x = bytearray(30 << 20)\n"
                                      "for i in range(0, len(x), 4096):\n    x[i] = 1\n"})
    assert status == 0
    assert 28 * 1024 < ans["metrics"]["peak_memory_kb"] < 40 * 1024
    status, small = run_inline({"code": "x = 1\n"})
    assert small["metrics"]["peak_memory_kb"] < 4 * 1024
