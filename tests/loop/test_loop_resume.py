"""A worker killed in the middle of a loop: the job is reclaimed and the next
attempt resumes from the last committed iteration. One history, no
iteration asked for or committed twice."""
import json
import signal

import pytest

from looptools import (ADD_MUL, ADD_OK, ADD_SUB, ADD_TASK, ADD_TESTS, REPAIR, LoopSystem,
                       check_history, fenced, rules, wait_until)


@pytest.fixture
def system(redis_server, tmp_path, fake_llm):
    made = []

    def start(reply_rules):
        path = tmp_path / "rules.json"
        path.write_text(json.dumps(reply_rules))
        fake = fake_llm(extra=["--replies", str(path)])
        s = LoopSystem(redis_server, tmp_path)
        made.append(s)
        s.dispatcher()
        return s, fake

    yield start
    for s in made:
        s.stop_all()


def test_killed_worker_resumes_from_the_last_commit(system):
    # generate -> a - b; its repair -> a * b (slowly: the worker dies waiting
    # for it); the repair of a * b -> the right code.
    s, fake = system(rules(("return a * b", fenced(ADD_OK)),
                           (REPAIR, fenced(ADD_MUL), 3.0),
                           default=fenced(ADD_SUB)))
    a = s.loop_worker(fake.url, fake.model)
    jid = s.submit_loop(prompt=ADD_TASK, tests=ADD_TESTS, entry_point="add", max_iterations=6,
                        strategy="repair")
    # Iteration 0 is committed and the worker is waiting for the repair.
    wait_until(lambda: len(fake.requests()) >= 2 and s.iteration(jid, 0).get("commit"),
               what="iteration 0 and the first repair call")
    a.signal(signal.SIGKILL)
    a.p.wait()
    b = s.loop_worker(fake.url, fake.model)
    h = s.wait(jid, timeout=60)
    assert h["state"] == "done" and h["passed"] == "1", h
    assert h["attempt"] == "2" and h["worker"] == b.name
    hist, its = check_history(s, jid)
    assert [c["iteration"] for c in hist] == [0, 1, 2]
    assert [c["attempt"] for c in hist] == [1, 2, 2]
    assert [i["attempt"] for i in its] == ["1", "2", "2"]
    # The task was asked once: the second attempt began with a repair of the
    # committed iteration 0, not with a fresh start.
    users = [r["user"] for r in fake.requests()]
    assert sum(REPAIR not in u for u in users) == 1
    assert sum("return a - b" in u and REPAIR in u for u in users) == 2  # the killed call, again
    # The budget carried over: tokens add up across both attempts.
    assert int(its[2]["tokens_total"]) == sum(int(i["tokens"]) for i in its)
    types = [e["type"] for e in s.events(jid)]
    assert "iteration" in types and types[-1] == "done"
    assert s.git(jid).accepted() == hist[2]["oid"]


def test_resume_restores_a_missing_iteration_record(system):
    # A worker that died between its commit and the iteration hash: the next
    # attempt writes the hash again from the commit.
    s, fake = system(rules(("return a * b", fenced(ADD_OK)),
                           (REPAIR, fenced(ADD_MUL), 3.0),
                           default=fenced(ADD_SUB)))
    a = s.loop_worker(fake.url, fake.model)
    jid = s.submit_loop(prompt=ADD_TASK, tests=ADD_TESTS, entry_point="add", strategy="repair")
    wait_until(lambda: len(fake.requests()) >= 2 and s.iteration(jid, 0).get("commit"),
               what="iteration 0")
    a.signal(signal.SIGKILL)
    a.p.wait()
    before = s.iteration(jid, 0)
    s.r.delete(s.key("job", jid, "it:0"))
    s.loop_worker(fake.url, fake.model)
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "1", h
    after = s.iteration(jid, 0)
    assert after["restored"] == "1"
    for f in ("code", "report", "commit", "passed", "summary"):
        assert after[f] == before[f], f
    hist = s.git(jid).history()
    assert [c["iteration"] for c in hist] == [0, 1, 2]
