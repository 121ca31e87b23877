"""A batch job's items shared by several workers: idle workers claim a few
items at a time of a batch another worker runs, evaluate them and record them
under the job's attempt. Real dispatcher, real workers, the real sandbox:
every item recorded once with the worker that ran it, a helper killed
mid-item costing only a rerun of its items, the owner killed and the job
resumed, a cancel stopping every worker, plain jobs served first, tampered
keys put right with a reason, and the knob that turns sharing off."""
import json
import re
import signal
import subprocess
import urllib.request

from conftest import binary, free_port


def batch(items, **fields):
    return {"kind": "batch", "items": items, "static_checks": False, **fields}


def sleepy(n, secs=0.3):
    return [{"id": f"s{i}", "code": f"import time\ntime.sleep({secs})\nx = {i}\n",
             "tests": f"assert x == {i}"} for i in range(n)]


def item_events(system, jid):
    return [e for e in system.events(jid) if e["type"] == "item"]


def ran_by(system, jid, n):
    """Item index -> the worker its record names."""
    return {i: system.r.hget(system.key("job", jid, "it", str(i)), "worker") for i in range(n)}


def assert_every_item_once(system, jid, n):
    h = system.job(jid)
    assert h["state"] == "done" and h["passed"] == "1", h
    assert h["items_total"] == str(n) and h["items_done"] == str(n), h
    assert h["items_passed"] == str(n), h
    evs = item_events(system, jid)
    assert sorted(int(e["n"]) for e in evs) == list(range(n)), evs
    result = json.loads(h["result"])
    assert [i["id"] for i in result["items"]] == [f"s{i}" for i in range(n)]
    assert all(i["passed"] and set(i) == {"id", "passed", "summary", "error", "report"}
               for i in result["items"]), result["items"][0]
    assert system.r.smembers(system.key("job", jid, "its")) == {str(i) for i in range(n)}
    return h, evs


def running_owner(system, jid):
    h = system.wait(jid, timeout=60, states={"running"})
    return h["worker"]


def owner_then_helper(system, n, secs):
    """A batch of n items of secs each running on one worker (one slot), then
    a second worker (one slot) to help: (owner, helper, job id)."""
    system.dispatcher()
    owner = system.worker(**{"batch-slots": 1})
    jid = system.submit(batch(sleepy(n, secs), limits={"timeout_s": 10}))
    assert running_owner(system, jid) == owner.name
    helper = system.worker(**{"batch-slots": 1})
    return owner, helper, jid


def recorded_items(port):
    """The worker's llmrepl_worker_batch_items_total{outcome="recorded"} by role."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(
        r'^llmrepl_worker_batch_items_total\{role="(\w+)",outcome="recorded"\} (\S+)$', text,
        re.M)}


def test_three_workers_share_a_batch_each_item_once(system):
    system.dispatcher()
    ports = [free_port() for _ in range(3)]
    ws = [system.worker("--metrics-listen", f"127.0.0.1:{p}", **{"batch-slots": 1})
          for p in ports]
    n = 24
    jid = system.submit(batch(sleepy(n)))
    h = system.wait(jid, timeout=120)
    h, evs = assert_every_item_once(system, jid, n)
    who = ran_by(system, jid, n)
    assert set(who.values()) <= {w.name for w in ws}, who
    assert len(set(who.values())) >= 2, who  # items ran on more than one worker
    # The event says who ran the item, as the item's record does.
    assert {int(e["n"]): e["worker"] for e in evs} == who
    assert h["attempt"] == "1"
    # Closed: nothing left to claim, not listed as open.
    assert system.r.zscore(system.prefix + "batches", jid) is None
    assert system.r.zcard(system.key("job", jid, "todo")) == 0
    # Each worker counted what it recorded, as owner or helper: n in all.
    counts = [recorded_items(p) for p in ports]
    assert sum(sum(c.values()) for c in counts) == n, counts
    assert sum(c.get("helper", 0) for c in counts) > 0, counts


def test_a_helpers_presence_record_names_the_batch_it_helps_with(system):
    # Its record (P worker:<name>) says it is busy: the batch job and attempt
    # in `job` and `attempt`, the worker it helps in `helping`; all cleared
    # when it has nothing left to help with.
    n = 6
    owner, helper, jid = owner_then_helper(system, n, 2)
    rec = system.key("worker", helper.name)
    claims = system.key("job", jid, "claims")
    system.wait_for(lambda: helper.name in system.r.hvals(claims), timeout=60,
                    what="the helper holding items")
    system.wait_for(lambda: system.r.hget(rec, "helping") == owner.name, timeout=30,
                    what=f"the helper's record saying it helps: {system.r.hgetall(rec)}")
    h = system.r.hgetall(rec)
    assert h["job"] == jid and h["attempt"] == "1", h
    # The owner's record names its own job and helps no one.
    o = system.r.hgetall(system.key("worker", owner.name))
    assert o["job"] == jid and o.get("helping", "") == "", o
    system.wait(jid, timeout=120)
    assert_every_item_once(system, jid, n)
    system.wait_for(lambda: system.r.hget(rec, "helping") == "" and
                    system.r.hget(rec, "job") == "", timeout=30,
                    what=f"the helper idle again: {system.r.hgetall(rec)}")
    assert system.r.hget(rec, "attempt") == "0"


def test_a_helper_killed_mid_item_costs_only_a_rerun_of_its_items(system):
    system.dispatcher()
    owner = system.worker(**{"batch-slots": 1})
    n = 16
    jid = system.submit(batch(sleepy(n, 0.5)))
    assert running_owner(system, jid) == owner.name
    helper = system.worker(**{"batch-slots": 2})
    claims = system.key("job", jid, "claims")
    system.wait_for(lambda: helper.name in system.r.hvals(claims), timeout=60,
                    what="the helper holding items")
    held = [k for k, v in system.r.hgetall(claims).items() if v == helper.name]
    helper.signal(signal.SIGKILL)
    helper.p.wait()
    system.wait(jid, timeout=120)
    h, _ = assert_every_item_once(system, jid, n)
    assert h["attempt"] == "1", h  # the owner carried on: no new attempt
    who = ran_by(system, jid, n)
    # What the helper held when it died was run again by the owner (its
    # claims ran out), unless the helper had recorded it just before.
    assert all(who[int(k)] in (owner.name, helper.name) for k in held), (held, who)
    assert owner.name in who.values()


def test_the_owner_killed_resumes_and_old_helpers_are_refused(system):
    system.dispatcher()
    owner = system.worker(**{"batch-slots": 1})
    n = 16
    jid = system.submit(batch(sleepy(n, 0.5)))
    assert running_owner(system, jid) == owner.name
    helper = system.worker(**{"batch-slots": 1})
    system.wait_for(lambda: int(system.job(jid).get("items_done", "0")) >= 3, timeout=60,
                    what="three items done")
    owner.signal(signal.SIGKILL)
    owner.p.wait()
    h = system.wait(jid, timeout=120)
    h, evs = assert_every_item_once(system, jid, n)
    assert h["attempt"] == "2" and h["worker"] == helper.name, h
    # Each item once: the second attempt ran only what the first had not
    # recorded, whoever recorded it.
    first = sum(e["attempt"] == "1" for e in evs)
    assert first >= 3 and sum(e["attempt"] == "2" for e in evs) == n - first
    progress = [e["msg"] for e in system.events(jid) if e["type"] == "progress"]
    assert f"resuming: {first} of {n} items already done" in progress


def test_a_helpers_record_for_an_attempt_that_ended_is_refused(system):
    # The helper runs a long item; meanwhile the owner dies and its lease
    # runs out, so the helper's record comes for an attempt that is over:
    # refused by the fence, and the item is run again by the next attempt.
    n = 4
    owner, helper, jid = owner_then_helper(system, n, 3)
    claims = system.key("job", jid, "claims")
    held = system.wait_for(lambda: [k for k, v in system.r.hgetall(claims).items()
                                    if v == helper.name], timeout=60,
                           what="the helper holding an item")
    owner.signal(signal.SIGKILL)
    owner.p.wait()
    system.wait(jid, timeout=120)
    h, evs = assert_every_item_once(system, jid, n)
    assert h["attempt"] == "2", h
    assert [e["attempt"] for e in evs if e["n"] == held[0]] == ["2"], (held, evs)
    assert int(system.stats().get("total:stale_writes", "0")) >= 1
    # Refused (its claims' extension or its record), the helper stopped.
    assert "refused" in helper.log() and "stops helping" in helper.log(), helper.log()[-2000:]


def test_cancel_stops_the_owner_and_its_helpers(system):
    system.dispatcher()
    ws = [system.worker(**{"batch-slots": 1}) for _ in range(3)]
    n = 40
    jid = system.submit(batch(sleepy(n, 0.5)))
    claims = system.key("job", jid, "claims")
    system.wait_for(lambda: len(set(system.r.hvals(claims))) >= 2, timeout=60,
                    what="two workers holding items")
    out = subprocess.run([binary("llmrepl"), "cancel", jid], capture_output=True, text=True,
                         env=system.env(), timeout=30)
    assert out.returncode == 0, out.stderr
    assert system.wait(jid)["state"] == "cancelled"
    # Every worker is free again: as many plain jobs as workers all run.
    plain = [system.submit({"kind": "evaluate", "code": "import time\ntime.sleep(1)\nx = 1\n",
                            "tests": "assert x == 1", "static_checks": False})
             for _ in ws]
    for j in plain:
        assert system.wait(j, timeout=60)["passed"] == "1"
    types = [e["type"] for e in system.events(jid)]
    # Nothing is recorded after the cancel, by the owner or a helper.
    assert "item" not in types[types.index("cancelled"):], types
    assert int(system.job(jid).get("items_done", "0")) < n
    system.wait_for(lambda: system.r.zscore(system.prefix + "batches", jid) is None,
                    timeout=30, what="the batch no longer open")


def test_a_plain_job_is_served_before_a_big_batch_ends(system):
    system.dispatcher()
    system.worker(**{"batch-slots": 1})
    system.worker(**{"batch-slots": 1})
    n = 40
    jid = system.submit(batch(sleepy(n)))
    claims = system.key("job", jid, "claims")
    system.wait_for(lambda: len(set(system.r.hvals(claims))) >= 2, timeout=60,
                    what="both workers on the batch")
    plain = system.submit({"kind": "evaluate", "code": "x = 1\n", "tests": "assert x == 1",
                           "static_checks": False})
    assert system.wait(plain, timeout=60)["passed"] == "1"
    # Served by the helper between two rounds of items, while the batch runs.
    assert system.job(jid)["state"] == "running"
    system.wait(jid, timeout=120)
    assert_every_item_once(system, jid, n)


# One item per run in these two: items are claimed one at a time, so the
# tampering meets items nobody has claimed yet.
def test_tampered_claims_are_put_right_with_a_reason(system):
    system.dispatcher()
    system.worker(**{"batch-slots": 1, "batch-group": 1})
    n = 12
    jid = system.submit(batch(sleepy(n)))
    system.wait_for(lambda: int(system.job(jid).get("items_done", "0")) >= 2, timeout=60,
                    what="two items done")
    todo = system.key("job", jid, "todo")
    # Members that are no item (out of range, not a number), a done item put
    # back, a claim someone else "holds".
    system.r.zadd(todo, {"abc": 0, "99999": 1, "0": 2})
    system.r.hset(system.key("job", jid, "claims"), mapping={"7": "nobody", "x": "y"})
    system.worker(**{"batch-slots": 1, "batch-group": 1})
    system.wait(jid, timeout=120)
    assert_every_item_once(system, jid, n)
    reasons = " ".join(e.get("msg", "") for e in system.events(jid)
                       if e["type"] == "batch_data")
    assert "'abc' is not an index" in reasons and "'99999' is not an index" in reasons, reasons
    assert "item 0 is recorded already" in reasons, reasons


def test_a_lost_todo_list_is_run_by_the_owner(system):
    system.dispatcher()
    system.worker(**{"batch-slots": 1, "batch-group": 1})
    n = 10
    jid = system.submit(batch(sleepy(n)))
    system.wait_for(lambda: int(system.job(jid).get("items_done", "0")) >= 2, timeout=60,
                    what="two items done")
    system.r.delete(system.key("job", jid, "todo"))
    system.wait(jid, timeout=120)
    assert_every_item_once(system, jid, n)
    reasons = [e.get("msg", "") for e in system.events(jid) if e["type"] == "batch_data"]
    assert any("neither recorded nor in the todo list" in r for r in reasons), reasons


def test_a_broken_batches_key_leaves_the_owner_alone(system):
    system.r.set(system.prefix + "batches", "junk")
    system.dispatcher()
    system.worker(**{"batch-slots": 1})
    system.worker(**{"batch-slots": 1})
    n = 6
    jid = system.submit(batch(sleepy(n, 0.2)))
    system.wait(jid, timeout=120)
    h, _ = assert_every_item_once(system, jid, n)
    assert set(ran_by(system, jid, n).values()) == {h["worker"]}
    reasons = " ".join(e.get("msg", "") for e in system.events(jid)
                       if e["type"] == "batch_data")
    assert "no other worker helps" in reasons, reasons


def test_sharing_off_keeps_a_batch_on_its_owner(system):
    system.dispatcher()
    system.worker(**{"batch-slots": 1, "batch-share": "false"})
    system.worker(**{"batch-slots": 1, "batch-share": "false"})
    n = 8
    jid = system.submit(batch(sleepy(n, 0.2)))
    owner = running_owner(system, jid)
    system.wait(jid, timeout=120)
    assert_every_item_once(system, jid, n)
    assert set(ran_by(system, jid, n).values()) == {owner}
    assert system.r.zcard(system.prefix + "batches") == 0


def test_worker_help_lists_the_knob():
    out = subprocess.run([binary("llmrepl-worker"), "--help"], capture_output=True, text=True,
                         timeout=30)
    assert "--batch-share" in out.stdout + out.stderr
