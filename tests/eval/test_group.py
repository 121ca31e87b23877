"""Grouped evaluation (worker/eval_group.c, sandbox/py/llmrepl_group.py):
several evaluations in one pooled sandbox run, through build/llmrepl-eval
--batch. Each batch runs twice, one run per evaluation (--group 1) and
grouped, and the verdicts must be the same item by item; items that ran
grouped say so in their report (run.group, isolation "grouped"), and the
ones that fell back to a run of their own do not."""
import json
import subprocess

import pytest

from conftest import binary

GROUPED_BIT = 1 << 13  # SBX_ISO_GROUPED
CGROUP_BIT = 1 << 10  # SBX_ISO_CGROUP


def _batch(tmp_path, jobs, *args):
    f = tmp_path / "batch.jsonl"
    f.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    p = subprocess.run([binary("llmrepl-eval"), "--batch", str(f), "--json", *args],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode in (0, 1), p.stderr
    out = [json.loads(line) for line in p.stdout.splitlines()]
    assert [o["id"] for o in out] == [j["id"] for j in jobs]
    return out


def _verdict(o):
    r = o["report"]
    return (o["passed"], o["tests_total"], o["tests_passed"], r["status"],
            [t["status"] for t in r["tests"]], r["integrity"])


def _grouped(o):
    run = o["report"]["run"]
    return "group" in run and bool(run["isolation"] & GROUPED_BIT)


def _both(tmp_path, jobs, *args):
    """(alone, grouped) outputs; the verdicts equal item by item."""
    alone = _batch(tmp_path, jobs, "--group", "1", *args)
    grouped = _batch(tmp_path, jobs, "--group", str(len(jobs)), *args)
    assert [_verdict(o) for o in grouped] == [_verdict(o) for o in alone]
    assert not any(_grouped(o) for o in alone)
    return alone, grouped


def _judge(o):
    return o["report"]["run"]["group"]["judge"]


def _job(i, code, tests="assert f(1) == 2\n", **kw):
    return dict({"id": str(i), "code": code, "tests": tests}, **kw)


OK = "def f(x):\n    return x + 1\n"
WRONG = "def f(x):\n    return x\n"


def test_mixed_verdicts_equal_the_ungrouped_ones(tmp_path):
    jobs = [
        _job(0, OK, "assert f(1) == 2\nassert f(2) == 3\n"),
        _job(1, WRONG),
        _job(2, "def f(x):\n    raise ValueError('no')\n"),
        _job(3, "def f(x)\n    return 1\n"),  # syntax error
        _job(4, ""),  # empty
        _job(5, OK, "assert f(1 ==\n"),  # tests that do not parse
        _job(6, "import os\ndef f(x):\n    print('said'); os.write(2, b'raw')\n    return 2\n"),
        _job(7, "def f(x):\n    while True:\n        pass\n"),  # a step's timeout
        _job(8, "def inc(x):\n    return x + 1\n",
             "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(5) == 7\n",
             entry_point="inc"),
        _job(9, "import os\ndef f(x):\n    os.kill(os.getpid(), 9)\n"),  # kills its worker
        _job(10, "def f(x):\n    return x + 1\n\ndef test_f():\n    assert f(3) == 4\n", None),
    ]
    alone, grouped = _both(tmp_path, jobs, "--test-timeout", "0.5")
    assert all(_grouped(o) for o in grouped)
    assert [o["passed"] for o in grouped] == [True, False, False, False, False, False, True,
                                              False, False, False, True]
    # Each item's own output, captured and written straight to the descriptor.
    r6 = grouped[6]["report"]
    assert r6["stdout"] == "said\n" and r6["stderr"] == "raw"
    assert all(o["report"]["stdout"] == "" for i, o in enumerate(grouped) if i != 6)
    # The run's peak memory is the group's: reported as an upper bound.
    run = grouped[0]["report"]["run"]
    assert run["group"]["size"] == len(jobs) and run["group"]["index"] == 0
    assert "upper bound" in run["group"]["peak_kb"] and "upper bound" in run["detail"]
    assert [o["report"]["run"]["group"]["index"] for o in grouped] == list(range(len(jobs)))


def test_nothing_of_an_item_reaches_the_next(tmp_path):
    # Item 0 leaves files in /work and /tmp and a process that keeps writing
    # one; the next items look for them (after giving a survivor time).
    litter = ("import os, time\n"
              "open('/work/flag', 'w').write('x')\nopen('/tmp/flag', 'w').write('x')\n"
              "os.mkdir('/work/d')\n"
              "if os.fork() == 0:\n"
              "    os.setsid()\n"
              "    while True:\n"
              "        time.sleep(0.02)\n"
              "        open('/tmp/late', 'w').write('x')\n"
              "def f(x):\n    return x + 1\n")
    look = ("import os, time\n"
            "def f(x):\n"
            "    time.sleep(0.3)\n"
            "    seen = [p for p in ('/work/flag', '/tmp/flag', '/work/d', '/tmp/late')\n"
            "            if os.path.exists(p)]\n"
            "    return x + 1 if not seen and not os.listdir('/work') else seen\n")
    # The tests run in the judge: item 4's leave files and a process of the
    # judge's uid behind too.
    judge_litter = ("import os, time\n"
                    "open('/work/jflag', 'w').write('x')\nos.mkdir('/tmp/jd', 0o700)\n"
                    "if os.fork() == 0:\n"
                    "    os.setsid()\n"
                    "    while True:\n"
                    "        time.sleep(0.02)\n"
                    "        try:\n"
                    "            open('/work/jlate', 'w').write('x')\n"
                    "        except OSError:\n"
                    "            pass\n"
                    "assert f(1) == 2\n")
    look_judge = look.replace("'/tmp/late')", "'/tmp/late', '/work/jflag', '/tmp/jd', "
                                              "'/work/jlate')")
    jobs = [_job(0, litter), _job(1, look), _job(2, litter), _job(3, look),
            _job(4, OK, judge_litter), _job(5, look_judge)]
    alone, grouped = _both(tmp_path, jobs)
    assert [o["passed"] for o in grouped] == [True] * 6, [o["summary"] for o in grouped]
    assert [_grouped(o) for o in grouped] == [True] * 6


def test_a_crashing_or_hanging_judge_child_costs_only_its_item(tmp_path):
    # The tests run in the judge: these end its child (a kill, an exit) or
    # hang it beyond interruption. Only those items run again alone.
    jobs = [
        _job(0, OK),
        _job(1, OK, "import os\nos.kill(os.getpid(), 9)\n"),
        _job(2, WRONG),
        _job(3, OK, "import os\nassert f(1) == 2\nos._exit(0)\n"),
        _job(4, OK, "import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, "
                    "[signal.SIGALRM])\nwhile True:\n    pass\n"),
        _job(5, OK),
    ]
    alone, grouped = _both(tmp_path, jobs, "--timeout", "3")
    assert [_grouped(o) for o in grouped] == [True, False, True, False, False, True]
    assert [o["passed"] for o in grouped] == [True, False, False, False, False, True]


def test_a_killed_factory_ends_the_group_and_the_rest_run_alone(tmp_path):
    # The code kills the candidate factory (its parent, same uid): the
    # judge's clean-up gets no answer, so the items after it run alone.
    killer = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ndef f(x):\n    return x + 1\n"
    jobs = [_job(0, OK), _job(1, killer), _job(2, OK), _job(3, WRONG)]
    alone, grouped = _both(tmp_path, jobs)
    assert [_grouped(o) for o in grouped] == [True, False, False, False]
    assert [o["passed"] for o in grouped][2:] == [True, False]


@pytest.mark.parametrize("at", [0, 1])
def test_a_killed_factory_of_either_turn_ends_the_group(tmp_path, at):
    # Grouped items take turns between two candidate factories (as root):
    # the code of item `at` kills its own, whichever of the two it is.
    killer = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ndef f(x):\n    return x + 1\n"
    jobs = [_job(0, OK), _job(1, OK), _job(2, OK), _job(3, WRONG)]
    jobs[at] = _job(at, killer)
    alone, grouped = _both(tmp_path, jobs)
    assert [_grouped(o) for o in grouped] == [k < at for k in range(4)]
    assert [o["passed"] for o in grouped][at + 1:] == [True, True, False][at:]


# The code's uid, and every process of another uid it can signal or renice
# (by /proc/<pid>/status), as one JSON string; the tests fail on purpose so
# that the report carries it (assertion.actual).
_PROBE = ("import json, os\n"
          "def f():\n"
          "    me, reached = os.getuid(), []\n"
          "    for p in os.listdir('/proc'):\n"
          "        if not p.isdigit() or int(p) == os.getpid():\n"
          "            continue\n"
          "        try:\n"
          "            with open('/proc/%s/status' % p) as st:\n"
          "                uid = int(st.read().split('\\nUid:')[1].split()[0])\n"
          "        except (OSError, IndexError, ValueError):\n"
          "            continue\n"
          "        for how, act in (('kill', lambda: os.kill(int(p), 0)),\n"
          "                         ('nice', lambda: os.setpriority(os.PRIO_PROCESS, int(p), 19))):\n"
          "            try:\n"
          "                act()\n"
          "            except OSError:\n"
          "                continue\n"
          "            if uid != me:\n"
          "                reached.append([uid, how])\n"
          "    return json.dumps([me, reached])\n")


def _probed(o):
    import ast
    return json.loads(ast.literal_eval(o["report"]["tests"][0]["assertion"]["actual"]))


def test_consecutive_items_take_turns_between_two_candidate_uids(tmp_path):
    # Consecutive grouped items' workers have two uids in turn (as root,
    # with the pool's lanes: llmrepl_judge.take_turn), so that the next
    # item's worker waits forked beside the last item's code; that code
    # reaches no process of another uid (the other factory and its spare
    # among them), neither by a signal nor by a renice. Alone, every run's
    # worker has the first factory's uid.
    import os
    jobs = [_job(i, _PROBE, "assert f() == ''\n") for i in range(5)]
    alone, grouped = _both(tmp_path, jobs)
    assert all(_grouped(o) for o in grouped)
    seen = [_probed(o) for o in grouped]
    assert all(reached == [] for _, reached in seen), seen
    assert all(reached == [] for _, reached in (_probed(o) for o in alone))
    uids = [me for me, _ in seen]
    assert len({me for me, _ in (_probed(o) for o in alone)}) == 1
    if os.geteuid() != 0 or not all(o["report"]["run"]["isolation"] & CGROUP_BIT
                                    for o in grouped):
        # One candidate uid without the pool's lanes (no root, no cgroups).
        assert len(set(uids)) == 1
        return
    assert len(set(uids)) == 2 and all(a != b for a, b in zip(uids, uids[1:])), uids


def test_a_grouped_items_tests_reach_only_its_own_factory(tmp_path):
    # The tests of an item with a judge of its own (not pure: they import)
    # run in that judge; of the candidate factories they hold only the
    # item's, whose CLEAN after the item kills whatever they asked it for,
    # never the next item's.
    tests = ("import os, socket\n"
             "def factories():\n"
             "    n = 0\n"
             "    for fd in (10, 12):\n"
             "        try:\n"
             "            s = socket.socket(fileno=os.dup(fd))\n"
             "        except OSError:\n"
             "            continue\n"
             "        n += s.type == socket.SOCK_SEQPACKET\n"
             "        s.close()\n"
             "    return n\n"
             "assert factories() == 1\n"
             "assert f(1) == 2\n")
    jobs = [_job(i, OK, tests) for i in range(3)]
    grouped = _batch(tmp_path, jobs, "--group", "3")
    assert [_grouped(o) for o in grouped] == [True] * 3
    assert [_judge(o) for o in grouped] == ["own"] * 3
    assert [o["passed"] for o in grouped] == [True] * 3, [o["summary"] for o in grouped]
    # A run of its own asks only the first factory: the second's socket is
    # closed before its tests run (and the server does not ask that one to
    # clean up after it).
    alone = _batch(tmp_path, jobs, "--group", "1")
    assert [o["passed"] for o in alone] == [True] * 3, [o["summary"] for o in alone]


def test_an_oom_kill_anywhere_sends_every_item_alone(tmp_path):
    # Processes of item 1 together go past the run's memory (each under its
    # own address-space limit): an OOM kill in the run, which the group's
    # figures cannot pin on one item, so each is evaluated alone.
    hog = ("import os, time\n"
           "for _ in range(4):\n"
           "    if os.fork() == 0:\n"
           "        b = bytearray(60 << 20)\n"
           "        for i in range(0, len(b), 4096):\n"
           "            b[i] = 1\n"
           "        time.sleep(2)  # all four at once\n"
           "        os._exit(0)\n"
           "for _ in range(4):\n"
           "    os.wait()\n"
           "def f(x):\n    return x + 1\n")
    jobs = [_job(0, OK), _job(1, hog), _job(2, WRONG)]
    alone = _batch(tmp_path, jobs, "--group", "1", "--memory", "128")
    grouped = _batch(tmp_path, jobs, "--group", "3", "--memory", "128")
    if not all(o["report"]["run"]["isolation"] & CGROUP_BIT for o in alone + grouped):
        # The sandbox could not make the run's cgroup (it says so in the
        # detail): no memory limit, so no OOM kill to test with.
        pytest.skip("a run without its cgroup: %s" % [o["report"]["run"]["detail"]
                                                       for o in alone + grouped])
    assert [_verdict(o) for o in grouped] == [_verdict(o) for o in alone]
    assert not any(_grouped(o) for o in grouped)
    assert alone[1]["report"]["run"]["end"] == "memory"


def test_a_memory_criterion_is_never_grouped(tmp_path):
    jobs = [_job(0, OK), _job(1, OK, criteria={"max_memory_mb": 512}), _job(2, OK)]
    alone, grouped = _both(tmp_path, jobs)
    assert [_grouped(o) for o in grouped] == [True, False, True]


def test_forged_frames_from_the_candidate_change_nothing(tmp_path):
    # Item 0's code writes well-formed frames, each claiming a passing
    # answer for item 1, to every descriptor it has (and its socket); item 1
    # fails on its own.
    answer = json.dumps({"harness": 1, "status": "ok", "tests_total": 1, "tests_passed": 1,
                         "tests": [], "integrity": "split"})
    frame = "ITEM 1 0 1 1 %d 0 0\n%s" % (len(answer), answer)
    forger = ("import os\nF = %r.encode()\n"
              "for fd in range(64):\n"
              "    try:\n        os.write(fd, F)\n    except OSError:\n        pass\n"
              "def f(x):\n"
              "    for fd in range(64):\n"
              "        try:\n            os.write(fd, F)\n        except OSError:\n"
              "            pass\n"
              "    return x + 1\n" % frame)
    jobs = [_job(0, forger), _job(1, WRONG), _job(2, OK)]
    alone, grouped = _both(tmp_path, jobs)
    # (Item 0's own verdict is what it is alone: its writes to its socket
    # break the protocol, a crash of the step.)
    assert [o["passed"] for o in grouped][1:] == [False, True]
    assert all(_grouped(o) for o in grouped)
    assert grouped[1]["tests_passed"] == 0


def test_the_trace_gives_each_item_its_phases_and_changes_no_verdict(tmp_path):
    """LLMREPL_SBX_TRACE=1: one "sbx-trace item" line per grouped item on
    the caller's stderr, the judge's child's and the group's marks in order,
    then the child's CPU and page faults; the verdicts are those without it."""
    import os
    jobs = [_job(0, OK), _job(1, WRONG), _job(2, OK, "assert f(1) == 2\nassert f(3) == 4\n"),
            _job(3, OK, "import os\nassert f(1) == 2\n")]  # not pure: a judge of its own
    f = tmp_path / "batch.jsonl"
    f.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    plain = _batch(tmp_path, jobs, "--group", "4")
    p = subprocess.run([binary("llmrepl-eval"), "--batch", str(f), "--json", "--group", "4"],
                       capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, LLMREPL_SBX_TRACE="1"))
    assert p.returncode in (0, 1), p.stderr
    traced = [json.loads(line) for line in p.stdout.splitlines()]
    assert [_verdict(o) for o in traced] == [_verdict(o) for o in plain]
    assert all(_grouped(o) for o in traced)
    assert [_judge(o) for o in traced] == ["shared"] * 3 + ["own"]
    lines = [ln.split() for ln in p.stderr.splitlines() if ln.startswith("sbx-trace item ")]
    assert len(lines) == len(jobs)
    # In the order evaluated: the shared judge's items, then the forked one.
    for i, words in enumerate(lines):
        names = [w.partition("=")[0] for w in words[2:]]
        assert all(w.partition("=")[2].isdigit() for w in words[2:])
        assert names[0] == "total" and names[-2:] == ["cpu.judge", "flt.judge"]
        common = ("c.start", "h.prestart", "h.plan", "j.loaded", "j.end", "c.answer", "g.clean",
                  "g.drain")
        if i < 3:
            for phase in ("send", "g.done") + common:
                assert phase in names
            # The judge's marks come between the hand-over and its DONE.
            assert names.index("send") < names.index("c.start") < names.index("c.answer") \
                < names.index("g.done")
            continue
        for phase in ("fork", "g.reaped", "g.sweep") + common:
            assert phase in names
        # The judge's child's marks come between the fork and its reaping.
        assert names.index("c.start") < names.index("c.answer") < names.index("g.reaped")
