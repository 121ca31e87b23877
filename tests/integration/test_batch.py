"""The `batch` kind end to end: a real dispatcher, real workers, the real
sandbox. Results per item, items that crash or hang costing only themselves,
a worker killed mid-batch and the job resumed elsewhere running only the items
not done, cancellation between items, specs refused with reasons naming the
item, and HumanEval's 164 canonical solutions as one batch."""
import json
import os
import signal
import subprocess

import pytest

from conftest import binary


def batch(items, **fields):
    return {"kind": "batch", "items": items, "static_checks": False, **fields}


def item_events(system, jid):
    return [e for e in system.events(jid) if e["type"] == "item"]


def test_results_per_item(system):
    system.dispatcher()
    system.worker()
    jid = system.submit(batch([
        {"id": "add", "code": "def add(a, b):\n    return a + b\n",
         "tests": ["assert add(1, 2) == 3"]},
        {"id": "sub", "code": "def sub(a, b):\n    return a + b\n",
         "tests": "assert sub(3, 1) == 2"},
        {"id": "HumanEval/0", "code": "def inc(x):\n    return x + 1\n",
         "tests": "def check(candidate):\n    assert candidate(1) == 2\n",
         "entry_point": "inc", "criteria": {"min_pass_rate": 1.0}},
    ]))
    h = system.wait(jid)
    assert h["state"] == "done" and h["kind"] == "batch", h
    assert h["passed"] == "0" and h["items_total"] == "3" and h["items_passed"] == "2", h
    assert h["items_done"] == "3"
    assert "sub" in h["error"], h
    result = json.loads(h["result"])
    assert result["items_total"] == 3 and result["items_passed"] == 2
    assert [(i["id"], i["passed"]) for i in result["items"]] == [
        ("add", True), ("sub", False), ("HumanEval/0", True)]
    for i in result["items"]:
        assert i["report"]["tests"], i  # the evaluate job's report, per item
        assert i["report"]["integrity"] in ("split", "in_process")
    assert result["items"][1]["error"]
    evs = item_events(system, jid)
    assert sorted((e["n"], e["id"], e["passed"]) for e in evs) == [
        ("0", "add", "1"), ("1", "sub", "0"), ("2", "HumanEval/0", "1")]
    # Each item is also kept as iteration n of the job.
    it = system.r.hgetall(system.key("job", jid, "it", "1"))
    assert it["item"] == "sub" and it["passed"] == "0"


def test_a_result_over_the_cap_keeps_every_item_and_leaves_reports_in_iterations(system):
    system.dispatcher()
    system.worker(**{"result-max-kb": 4})
    n = 12
    jid = system.submit(batch([{"id": f"i{i}", "code": f"x = {i}\nprint('y' * 300)\n",
                                "tests": [f"assert x == {i}", "assert x >= 0"]}
                               for i in range(n)]))
    h = system.wait(jid, timeout=120)
    assert h["state"] == "done" and h["passed"] == "1", h
    result = json.loads(h["result"])
    assert [i["id"] for i in result["items"]] == [f"i{i}" for i in range(n)]
    assert all(i["passed"] and "report" not in i for i in result["items"])
    assert "reports" in result and "compacted" not in result
    report = json.loads(system.r.hget(system.key("job", jid, "it", "5"), "report"))
    assert report["tests"] and "yyy" in report["stdout"]


def test_all_items_passing_pass_the_job(system):
    system.dispatcher()
    system.worker()
    jid = system.submit(batch([{"id": str(i), "code": f"x = {i}\n",
                                "tests": f"assert x == {i}"} for i in range(4)]))
    h = system.wait(jid)
    assert h["state"] == "done" and h["passed"] == "1" and h["items_passed"] == "4", h


@pytest.mark.parametrize("slots", [1, 2])
def test_crashing_and_hanging_items_cost_only_themselves(system, slots):
    system.dispatcher()
    system.worker(**{"batch-slots": slots})
    good = {"code": "def f():\n    return 1\n", "tests": "assert f() == 1"}
    jid = system.submit(batch([
        {"id": "a", **good},
        {"id": "killed", "code": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
         "tests": "assert True"},
        {"id": "b", **good},
        {"id": "hang", "code": "while True:\n    pass\n", "tests": "assert True"},
        {"id": "exit", "code": "import os\nos._exit(3)\n", "tests": "assert True"},
        {"id": "memory", "code": "x = bytearray(1 << 33)\n", "tests": "assert True"},
        {"id": "c", **good},
    ], limits={"timeout_s": 3}))
    h = system.wait(jid, timeout=120)
    assert h["state"] == "done", h
    result = json.loads(h["result"])
    passed = {i["id"]: i["passed"] for i in result["items"]}
    assert passed == {"a": True, "killed": False, "b": True, "hang": False, "exit": False,
                      "memory": False, "c": True}, result
    assert h["items_passed"] == "3" and h["attempt"] == "1"


@pytest.mark.parametrize("slots", [1, 2])
def test_worker_killed_mid_batch_resumes_only_what_was_not_done(system, slots):
    system.dispatcher()
    w1 = system.worker(**{"batch-slots": slots})
    n = 8
    items = [{"id": f"s{i}", "code": "import time\ntime.sleep(0.7)\nx = 1\n",
              "tests": "assert x == 1"} for i in range(n)]
    jid = system.submit(batch(items))
    system.wait_for(lambda: int(system.job(jid).get("items_done", "0")) >= 2, timeout=60,
                    what="two items done")
    w1.signal(signal.SIGKILL)
    w1.p.wait()
    done_before = int(system.job(jid)["items_done"])
    assert done_before < n
    system.worker()
    h = system.wait(jid, timeout=120)
    assert h["state"] == "done" and h["passed"] == "1", h
    assert h["attempt"] == "2" and h["items_passed"] == str(n), h
    evs = item_events(system, jid)
    # Every item recorded exactly once: the second attempt ran only the rest.
    assert sorted(int(e["n"]) for e in evs) == list(range(n)), evs
    assert sum(e["attempt"] == "1" for e in evs) == done_before
    assert sum(e["attempt"] == "2" for e in evs) == n - done_before
    progress = [e["msg"] for e in system.events(jid) if e["type"] == "progress"]
    assert f"resuming: {done_before} of {n} items already done" in progress
    assert [i["id"] for i in json.loads(h["result"])["items"]] == [f"s{i}" for i in range(n)]


def test_cancel_stops_between_items(system):
    system.dispatcher()
    system.worker()
    items = [{"id": f"s{i}", "code": "import time\ntime.sleep(0.5)\n", "tests": "assert True"}
             for i in range(20)]
    jid = system.submit(batch(items))
    system.wait_for(lambda: int(system.job(jid).get("items_done", "0")) >= 1, timeout=60,
                    what="an item done")
    out = subprocess.run([binary("llmrepl"), "cancel", jid], capture_output=True, text=True,
                         env=system.env(), timeout=30)
    assert out.returncode == 0, out.stderr
    h = system.wait(jid)
    assert h["state"] == "cancelled", h
    # The worker moves on: a later job runs.
    j2 = system.submit(batch([{"id": "x", "code": "x = 1\n", "tests": "assert x == 1"}]))
    assert system.wait(j2)["passed"] == "1"
    assert int(system.job(jid).get("items_done", "0")) < 20


@pytest.mark.parametrize("spec,reason", [
    (batch([]), "field 'items' must not be empty"),
    ({"kind": "batch"}, "missing required field 'items'"),
    (batch([{"id": "a", "code": "x=1"}, {"id": "b"}]), "items[1] ('b'): missing required field 'code'"),
    (batch([{"id": "a", "code": "x=1"}, {"id": "a", "code": "x=2"}]),
     "items[0] and items[1] have the same id 'a'"),
    (batch([{"code": "x=1"}]), "items[0]: missing required field 'id'"),
    (batch([{"id": "", "code": "x=1"}]), "items[0]: field 'id' must not be empty"),
    (batch([{"id": "a\nb", "code": "x=1"}]), "items[0]: field 'id' must not contain"),
    (batch([{"id": "a", "code": "x=1", "prompt": "p"}]), "items[0] ('a'): unknown field"),
    (batch([{"id": "a", "code": "x=1", "entry_point": "1x"}]),
     "items[0] ('a'): field 'entry_point' must be a Python identifier"),
    (batch([{"id": "a", "code": 3}]), "items[0] ('a'): field 'code' must be a string"),
    (batch([{"id": "a", "code": "x", "criteria": {"max_bogus": 1}}]), "items[0] ('a'): "),
    (batch(["x"]), "items[0]: must be an object"),
    (batch([{"id": "a", "code": "x=1"}], code="x=1"), "unknown field 'code' for kind 'batch'"),
    (batch([{"id": str(i), "code": "x=1"} for i in range(4)]), "over the operator's cap of 3"),
])
def test_bad_batches_are_rejected_with_reasons(system, spec, reason):
    system.dispatcher(**{"max-batch-items": 3})
    jid = system.submit(spec)
    h = system.wait(jid, timeout=30)
    assert h["state"] == "rejected", h
    assert reason in h["error"], h["error"]


def test_humaneval_canonical_solutions_as_one_batch(system, humaneval):
    system.dispatcher()
    system.worker()
    items = [{"id": p["task_id"], "code": p["prompt"] + p["canonical_solution"],
              "tests": p["test"], "entry_point": p["entry_point"]} for p in humaneval]
    # Over 128 KiB: one argv string would be too long for redis-cli.
    jid = system.r.xadd(system.prefix + "requests", {"spec": json.dumps(batch(items))})
    h = system.wait(jid, timeout=600)
    assert h["state"] == "done", h
    result = json.loads(h["result"])
    assert [i["id"] for i in result["items"]] == [p["task_id"] for p in humaneval]
    failed = [i["id"] for i in result["items"] if not i["passed"]]
    assert failed == [] and h["passed"] == "1", failed
    assert h["items_total"] == "164" and h["items_passed"] == "164"
    assert len(item_events(system, jid)) == 164


def test_client_submits_a_batch_from_jsonl(system, tmp_path):
    system.dispatcher()
    system.worker()
    f = tmp_path / "items.jsonl"
    f.write_text(json.dumps({"id": "a", "code": "x = 1\n", "tests": "assert x == 1"}) + "\n\n" +
                 json.dumps({"id": "b", "code": "def f():\n    return 2\n",
                             "tests": "def check(candidate):\n    assert candidate() == 2\n",
                             "entry_point": "f"}) + "\n")
    env = system.env()
    out = subprocess.run([binary("llmrepl"), "submit", "--batch", str(f), "--wait", "--json",
                          "--limit-timeout-s", "5", "--timeout", "120"],
                         capture_output=True, text=True, env=env, timeout=180)
    assert out.returncode == 0, (out.stdout, out.stderr)
    jobs = [k for k in system.r.scan_iter(system.prefix + "job:*") if k.count(":") == 2]
    assert len(jobs) == 1
    h = system.r.hgetall(jobs[0])
    assert h["kind"] == "batch" and h["items_passed"] == "2", h
    assert json.loads(h["spec"])["limits"]["timeout_s"] == 5
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "code": ""}\n{"id": \n')
    out = subprocess.run([binary("llmrepl"), "submit", "--batch", str(bad)],
                         capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 2 and f"{bad}:2:" in out.stderr, out.stderr


@pytest.mark.parametrize("slots", [1, 2])
def test_a_stopping_worker_gives_the_rest_of_a_batch_back(system, slots):
    system.dispatcher()
    w1 = system.worker(**{"batch-slots": slots, "drain-s": 0})
    n = 8
    jid = system.submit(batch([{"id": f"s{i}", "code": "import time\ntime.sleep(0.5)\nx = 1\n",
                                "tests": "assert x == 1"} for i in range(n)]))
    system.wait_for(lambda: int(system.job(jid).get("items_done", "0")) >= 1, timeout=60,
                    what="an item done")
    w1.signal(signal.SIGTERM)
    w1.p.wait(timeout=60)
    types = [e["type"] for e in system.events(jid)]
    assert "released" in types, types
    done_before = int(system.job(jid)["items_done"])
    system.worker(**{"batch-slots": slots})
    h = system.wait(jid, timeout=120)
    assert h["state"] == "done" and h["passed"] == "1" and h["items_passed"] == str(n), h
    evs = item_events(system, jid)
    assert sorted(int(e["n"]) for e in evs) == list(range(n)), evs
    assert sum(e["attempt"] == "1" for e in evs) == done_before


def _servers_of(pid):
    """Host pids of the sandbox pool servers under process pid (not the
    forks a server keeps ready for its next run)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append((int(d), cmd))
    out, todo = set(), [pid]
    while todo:
        for child, cmd in kids.get(todo.pop(), []):
            if b"--server" in cmd:
                out.add(child)
            else:
                todo.append(child)
    return out


def test_two_slots_share_a_batch_and_keep_their_pools_for_the_next(system):
    # The worker evaluates a batch on two slots: its own pool and one it
    # starts for the second slot, kept for the next batch job (no start per
    # job) and stopped with the worker.
    system.dispatcher()
    w = system.worker(**{"batch-slots": 2})
    items = [{"id": f"i{i}", "code": f"x = {i}\n", "tests": f"assert x == {i}"}
             for i in range(6)]
    h = system.wait(system.submit(batch(items)), timeout=120)
    assert h["state"] == "done" and h["items_passed"] == "6", h
    first = _servers_of(w.p.pid)
    assert len(first) == 2, first
    h = system.wait(system.submit(batch(items)), timeout=120)
    assert h["state"] == "done" and h["items_passed"] == "6", h
    assert _servers_of(w.p.pid) == first
    w.stop()
    assert all(not os.path.exists("/proc/%d" % p) for p in first)


def test_grouped_items_have_the_verdicts_of_single_runs(system):
    # A slot evaluates several items in one sandbox run (--batch-group,
    # worker/eval_group.c); each item's verdict and counts are those of a
    # run of its own (--batch-group 1), and its report says it was grouped.
    system.dispatcher()
    ok = "def f(x):\n    return x + 1\n"
    items = [{"id": "ok%d" % i, "code": ok, "tests": "assert f(%d) == %d" % (i, i + 1)}
             for i in range(6)]
    items += [
        {"id": "wrong", "code": "def f(x):\n    return x\n", "tests": "assert f(1) == 2"},
        {"id": "raises", "code": "def f(x):\n    raise KeyError(x)\n", "tests": "assert f(1)"},
        {"id": "killed", "code": "import os\nos.kill(os.getpid(), 9)\n", "tests": "assert 1"},
        {"id": "syntax", "code": "def f(:\n", "tests": "assert f(1) == 2"},
        {"id": "judge_exit", "code": ok, "tests": "import os\nos._exit(0)\n"},
        {"id": "ok_last", "code": ok, "tests": "assert f(0) == 1"},
    ]
    results = []
    for group in ("1", "16"):
        w = system.worker(**{"batch-slots": 2, "batch-group": group})
        jid = system.submit(batch(items))
        h = system.wait(jid, timeout=120)
        assert h["state"] == "done", h
        results.append(json.loads(h["result"])["items"])
        w.signal(signal.SIGTERM)
        w.p.wait(timeout=60)
    alone, grouped = results
    assert [(i["id"], i["passed"], i["report"]["tests_total"], i["report"]["tests_passed"])
            for i in grouped] == [(i["id"], i["passed"], i["report"]["tests_total"],
                                   i["report"]["tests_passed"]) for i in alone]
    assert [i["passed"] for i in grouped] == [True] * 6 + [False] * 5 + [True]
    assert not any("group" in i["report"]["run"] for i in alone)
    was = {i["id"]: "group" in i["report"]["run"] for i in grouped}
    assert was["ok0"] and was["wrong"] and not was["judge_exit"], was
