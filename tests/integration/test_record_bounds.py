"""A finished job's record is bounded: a report of thousands of failing
cases is compacted to the worker's --result-max-kb (the verdict, counts,
summary and first failures kept), the events stream is trimmed to exactly
events_max and holds no preallocated node, and every reader (llmrepl
status/wait, XRANGE, the finished index) still works."""
import json

from jobsys import evaluate

SYSTEM = {"prefix": "rb:"}  # the system fixture's (tests/conftest.py)


def job_bytes(system, jid):
    keys = [system.key("job", jid), system.key("job", jid, "events")]
    return sum(system.r.memory_usage(k, samples=0) or 0 for k in keys)


def test_huge_report_is_compacted_and_readable(system):
    system.dispatcher()
    system.worker("--result-max-kb", "32")
    # 3,000 failing cases, each keeping both 300-byte sides: a report of MBs.
    tests = "\n".join(f"assert f({i}) == 'b' * 300" for i in range(3000))
    code = "def f(i):\n    return 'a' * 300\nprint('o' * 60000)\n"
    jid = system.submit(evaluate(code, tests=tests))
    h = system.wait(jid, timeout=120)
    assert h["state"] == "done" and h["passed"] == "0", h
    assert len(h["result"]) <= 32 * 1024
    rep = json.loads(h["result"])
    assert rep["compacted"]["from_bytes"] > 1_000_000
    assert rep["verdict"] == "failed" and rep["passed"] is False
    assert rep["tests_total"] == 3000 and rep["tests_passed"] == 0
    assert rep["summary"] == h["summary"] and rep["error"]
    assert rep["tests"] and rep["tests"][0]["status"] == "failed"
    assert rep["tests_omitted"] + len(rep["tests"]) == 3000
    assert h["tests_total"] == "3000"
    # The finished index counts the compacted record.
    member = [m for m in system.r.zrange(system.prefix + "finished", 0, -1)
              if m.split()[0] == jid]
    assert len(member) == 1 and int(member[0].split()[1]) == job_bytes(system, jid)
    # The spec (86 KB of tests) and the compacted result are most of it.
    assert job_bytes(system, jid) < 86_000 + 48 * 1024
    # Readers: status (text and JSON) and wait.
    out = system.llmrepl("status", jid)
    assert out.returncode == 0 and "done" in out.stdout and "compacted" in out.stdout, out
    out = system.llmrepl("status", jid, "--json")
    assert json.loads(out.stdout)["result"]["tests_total"] == 3000
    out = system.llmrepl("wait", jid, "--timeout", "5")
    assert out.returncode == 1, out
    assert [e["type"] for e in system.events(jid)] == ["queued", "running", "done"]


def test_events_trimmed_exactly_and_compacted(system):
    system.dispatcher("--events-max", "10")
    jid = system.submit(evaluate("x = 1\n"))
    system.wait(jid, states={"queued"})
    ev = system.key("job", jid, "events")
    for i in range(30):  # as a chatty job kind would
        system.r.xadd(ev, {"type": "progress", "state": "queued", "attempt": "0",
                           "at": "0", "msg": f"step {i}"})
    system.worker()
    h = system.wait(jid)
    assert h["state"] == "done" and h["passed"] == "1"
    # Appends trim about (whole nodes of 100 entries); the end trims exactly.
    types = [e["type"] for e in system.events(jid)]
    assert len(types) == 10 and types[-2:] == ["running", "done"], types
    info = system.r.xinfo_stream(ev)
    assert info["entries-added"] == 33 and info["length"] == 10
    assert info["last-generated-id"] == system.r.xrevrange(ev, count=1)[0][0]
    # No preallocated node left (stream-node-max-bytes, 4 KiB by default).
    assert system.r.memory_usage(ev, samples=0) < 1500
    assert 0 < system.r.ttl(ev) <= int(h["ttl"])
    # Later appends (callback events do this) still work on the compacted stream.
    system.r.xadd(ev, {"type": "callback", "state": "done"})
    assert [e["type"] for e in system.events(jid)][-3:] == ["running", "done", "callback"]
    out = system.llmrepl("wait", jid, "--timeout", "5")
    assert out.returncode == 0, out


def test_small_job_record_is_small(system):
    system.dispatcher()
    system.worker()
    ids = [system.submit(evaluate(f"v = {i}\nassert v == {i}\n")) for i in range(20)]
    for jid in ids:
        assert system.wait(jid)["state"] == "done"
    sizes = [job_bytes(system, jid) for jid in ids]
    # Without compaction an events stream alone holds a 4 KiB node.
    assert max(sizes) < 4096, sizes


def test_batch_keeps_every_item_with_compacted_reports(system):
    system.dispatcher()
    system.worker("--result-max-kb", "16")
    tests = "\n".join(f"assert f({i}) == 'b' * 300" for i in range(1000))
    code = "def f(i):\n    return 'a' * 300\n"
    items = [{"id": f"big{i}", "code": code, "tests": tests} for i in range(2)]
    items.append({"id": "ok", "code": "x = 1\n"})
    jid = system.submit({"kind": "batch", "items": items, "static_checks": False})
    h = system.wait(jid, timeout=180)
    assert h["state"] == "done" and h["items_passed"] == "1", h
    res = json.loads(h["result"])
    # Every item keeps its verdict; the reports are in the result while it fits
    # the cap, and always in the items' iterations, each compacted alone.
    assert [(i["id"], i["passed"]) for i in res["items"]] == [
        ("big0", False), ("big1", False), ("ok", True)]
    assert len(h["result"]) <= 16 * 1024
    assert "report" not in res["items"][0] or "compacted" in res["items"][0]["report"]
    for n in range(2):
        it = system.r.hgetall(system.key("job", jid, "it", str(n)))
        assert len(it["report"]) <= 16 * 1024
        rep = json.loads(it["report"])
        assert rep["verdict"] == "failed" and rep["tests_total"] == 1000
        assert rep["compacted"]["from_bytes"] > 16 * 1024
    rep = json.loads(system.r.hget(system.key("job", jid, "it", "2"), "report"))
    assert rep["verdict"] == "passed" and "compacted" not in rep
