"""A pooled split evaluation is judged at its judge's answer when the judge
marks it final (nothing after it can change the outcome: the code's
processes are all dead and reaped, the judge is the run's last process and
runs nothing on its way out); the run's end is reaped before the pool's
next run (sbx_limits.early_answer). The reports are the same as when the
host waits for the run's end (LLMREPL_EARLY_ANSWER=0), figures of time and
memory aside; where something of the run could outlive the answer (a
process the code or the tests left, a thread), the judge does not mark it
and the host waits for the end as before."""
import json
import os
import subprocess

import pytest

from conftest import binary

TIMING = {"duration_s", "wall_s", "cpu_s", "peak_kb", "peak_memory_kb", "load_s", "tests_s",
          "harness_s", "static_s"}
CGROUP_BIT = 1 << 10

ADD_TESTS = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(0, 0) == 0\n"
GOOD = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"
RAW = ("import os\nos.write(1, b'raw out\\n')\nos.write(2, b'raw err\\n')\n"
       "def add(a, b):\n    print('said', a)\n    return a + b\n")
RAISES = "def add(a, b):\n    raise ValueError('no')\n"
# A process the code leaves behind (killed with the code's others at the
# judge's END; reaped by the pool's server only after the judge's exit).
LEAVES = ("import os, time\nif os.fork() == 0:\n    time.sleep(60)\n    os._exit(0)\n" + GOOD)
# Tests that leave a thread in the judge (waiting for ever: a daemon, which
# the judge's exit does not wait for).
THREAD_TESTS = ("import threading\n"
                "threading.Thread(target=threading.Event().wait, daemon=True).start()\n" +
                ADD_TESTS)
# Four processes of the code's over the run's memory together: an OOM kill
# in the run (each is under its own address-space limit).
HOG = ("import os, time\n"
       "for _ in range(4):\n"
       "    if os.fork() == 0:\n"
       "        b = bytearray(60 << 20)\n"
       "        for i in range(0, len(b), 4096):\n"
       "            b[i] = 1\n"
       "        time.sleep(2)\n"
       "        os._exit(0)\n"
       "for _ in range(4):\n"
       "    os.wait()\n" + GOOD)


def _clean(o):
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items() if k not in TIMING}
    if isinstance(o, list):
        return [_clean(x) for x in o]
    return o


def _batch(tmp_path, items, *args, early=True, env=None):
    f = tmp_path / "batch.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in items))
    env = dict(os.environ, LLMREPL_SBX_TRACE="1", LLMREPL_EARLY_ANSWER="1" if early else "0",
               **(env or {}))
    if "--static" not in args:
        args = ("--no-static",) + args
    p = subprocess.run([binary("llmrepl-eval"), "--batch", str(f), "--group", "1", "--json",
                        *args],
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode in (0, 1), p.stderr[-3000:]
    traces = [ln for ln in p.stderr.splitlines() if ln.startswith("sbx-trace pool ")]
    return [json.loads(ln) for ln in p.stdout.splitlines()], traces


def _item(i, code, tests=ADD_TESTS):
    return {"id": str(i), "code": code, "tests": tests, "entry_point": "add"}


def _marked(trace):
    return any(w.startswith("h.final=") for w in trace.split())


def _both(tmp_path, items, *args, env=None):
    early, traces = _batch(tmp_path, items, *args, env=env)
    late, late_traces = _batch(tmp_path, items, *args, early=False, env=env)
    assert not any(_marked(t) for t in late_traces)
    assert [_clean(o) for o in early] == [_clean(o) for o in late]
    if not all(o["report"]["run"]["isolation"] & CGROUP_BIT for o in early):
        pytest.skip("runs without their cgroups: the host waits for every end")
    return early, traces


def test_a_split_evaluation_is_judged_at_its_answer(tmp_path):
    # Two of each, so that both of the pool's lanes run every kind.
    codes = [GOOD, WRONG, RAW, RAISES] * 2
    out, traces = _both(tmp_path, [_item(i, c) for i, c in enumerate(codes)])
    assert [o["passed"] for o in out] == [True, False, True, False] * 2
    assert all(o["report"]["integrity"] == "split" for o in out)
    assert "raw out\n" in out[2]["report"]["stdout"], out[2]["report"]
    assert "raw err\n" in out[2]["report"]["stderr"], out[2]["report"]
    assert out[2]["report"]["run"]["exit_code"] == 0
    assert all(o["report"]["run"]["peak_kb"] > 0 for o in out)
    # Once the candidate's factory has seen both lanes (its next worker then
    # waits in the other's cgroups), every judge is the run's last process
    # at its answer and marks it final.
    assert len(traces) == len(codes)
    assert all(_marked(t) for t in traces[2:]), traces


def test_a_process_the_code_left_keeps_the_run_to_its_end(tmp_path):
    out, traces = _both(tmp_path, [_item(i, LEAVES) for i in range(4)])
    assert all(o["passed"] for o in out)
    assert not any(_marked(t) for t in traces), traces


def test_a_thread_the_tests_left_keeps_the_run_to_its_end(tmp_path):
    out, traces = _both(tmp_path, [_item(i, GOOD, THREAD_TESTS) for i in range(4)])
    assert all(o["passed"] for o in out)
    assert not any(_marked(t) for t in traces), traces


def test_an_oom_kill_before_the_answer_is_in_the_verdict(tmp_path):
    items = [_item(0, GOOD), _item(1, GOOD), _item(2, HOG), _item(3, GOOD), _item(4, HOG)]
    # (The load takes the children's two seconds: time enough for it.)
    out, traces = _both(tmp_path, items, "--memory", "128", "--timeout", "30",
                        "--test-timeout", "20")
    assert [o["passed"] for o in out] == [True, True, False, True, False]
    for o in (out[2], out[4]):
        assert o["report"]["run"]["end"] == "memory", o["report"]["run"]
        assert [v["criterion"] for v in o["report"]["violations"]] == ["run"]
    # The judge marked them final: the kill came before its answer, and the
    # host read the run's OOM count there.
    assert _marked(traces[2]) and _marked(traces[4]), traces


def test_a_judge_that_runs_the_static_tools_marks_its_answer_too(tmp_path):
    # Without the static service the judge runs the tools, which the
    # server loads once asked (logging among them: its exit handler is the
    # server's, as at the start).
    items = [_item(i, c) for i, c in enumerate([GOOD, WRONG] * 3)]
    out, traces = _both(tmp_path, items, "--static", env={"LLMREPL_STATIC_SERVICE": "0"})
    assert [o["passed"] for o in out] == [True, False] * 3
    assert all(o["report"]["static"]["pyflakes"]["ran"] for o in out)
    # The first spares were forked before the server loaded the tools (their
    # judges import them, logging's exit handler with them: no mark); the
    # last ones after.
    assert all(_marked(t) for t in traces[-2:]), traces
