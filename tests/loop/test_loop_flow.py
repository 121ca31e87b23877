"""The feedback loop's control flow, end to end through Redis, the real
dispatcher and worker, the real sandbox and git store, against the scripted
model server (tests/fixtures/fake_llm.py --replies): each test scripts what
the model answers to the generate, repair and refactor prompts and checks
the stop reason, the iterations, the events and the git history."""
import json
import subprocess

import pytest

from looptools import (ADD_DOUBLE, ADD_MUL, ADD_OK, ADD_SUB, ADD_SUB2, ADD_TASK, ADD_TESTS,
                       ADD_ZERO, REFACTOR, REPAIR, LoopSystem, check_history, fenced, rules)


@pytest.fixture
def loop(redis_server, tmp_path, fake_llm):
    """start(rules, **worker settings) -> (system, fake server)."""
    systems = []

    def start(reply_rules, **settings):
        path = tmp_path / f"rules{len(systems)}.json"
        path.write_text(json.dumps(reply_rules))
        fake = fake_llm(extra=["--replies", str(path)])
        s = LoopSystem(redis_server, tmp_path)
        systems.append(s)
        s.dispatcher()
        s.loop_worker(fake.url, fake.model, **settings)
        return s, fake

    yield start
    for s in systems:
        s.stop_all()


def add_job(s, **spec):
    """The add() job; strategy repair unless said otherwise (the rules of
    strategy auto have tests of their own below)."""
    return s.submit_loop(**{"prompt": ADD_TASK, "tests": ADD_TESTS, "entry_point": "add",
                            "strategy": "repair",
                            **spec})


def test_passes_first_try(loop):
    s, fake = loop(rules(default=fenced(ADD_OK)))
    jid = add_job(s)
    h = s.wait(jid, timeout=60)
    assert h["state"] == "done" and h["passed"] == "1", h
    assert h["stop_reason"] == "passed" and h["iterations"] == "0"
    assert h["code"] == ADD_OK
    res = s.result(jid)
    assert res["stop_reason"] == "passed" and res["iterations"] == 1
    assert res["code"] == ADD_OK and res["tests_passed"] == 4
    assert res["accepted_iteration"] == 0 and res["refactor"]["status"] == "not_requested"
    hist, its = check_history(s, jid)
    assert len(hist) == 1 and its[0]["phase"] == "generate" and its[0]["passed"] == "1"
    g = s.git(jid)
    assert g.accepted() == hist[0]["oid"] == res["commit"] == h["commit"]
    files = g.files(hist[0]["oid"])
    assert set(files) == {"solution.py", "tests.py", "report.json"}
    assert files["tests.py"].decode() == ADD_TESTS
    assert len(fake.requests()) == 1
    types = [e["type"] for e in s.events(jid)]
    assert types[-3:] == ["progress", "iteration", "done"]


def test_repaired_on_the_second_iteration(loop):
    s, fake = loop(rules((REPAIR, fenced(ADD_OK)), default=fenced(ADD_SUB)))
    jid = add_job(s)
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "1" and h["stop_reason"] == "passed" and h["iterations"] == "1"
    hist, its = check_history(s, jid)
    assert [i["phase"] for i in its] == ["generate", "repair"]
    assert its[0]["passed"] == "0" and its[1]["passed"] == "1"
    # The repair prompt carried the failing test: input, expected and actual.
    reqs = fake.requests()
    assert len(reqs) == 2 and reqs[1]["rule"] == 0
    assert "return a - b" in reqs[1]["user"]
    assert "add(1, 2)" in reqs[1]["user"] and "-1" in reqs[1]["user"] and "3" in reqs[1]["user"]
    # Each iteration's record: code, report, timings, tokens, commit.
    for it in its:
        for f in ("code", "report", "commit", "t_model_ms", "t_eval_ms", "t_commit_ms",
                  "tokens", "tokens_total", "elapsed_s", "summary"):
            assert f in it, f
    assert int(its[1]["tokens_total"]) == int(its[0]["tokens"]) + int(its[1]["tokens"])
    report0 = json.loads(its[0]["report"])
    assert report0["loop"]["failure_hash"] and report0["tests_passed"] == 1
    assert hist[0]["subject"].startswith("generate: failed")
    assert hist[1]["subject"].startswith("repair: passed")
    assert s.git(jid).accepted() == hist[1]["oid"]
    iter_events = [e for e in s.events(jid) if e["type"] == "iteration"]
    assert [e["n"] for e in iter_events] == ["0", "1"]


def test_single_shot(loop):
    s, fake = loop(rules(default=fenced(ADD_SUB)))
    jid = add_job(s, max_iterations=1)
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "0" and h["stop_reason"] == "max_iterations"
    assert h["iterations"] == "0" and len(fake.requests()) == 1
    assert h["error"].startswith("max_iterations: ")
    res = s.result(jid)
    assert res["accepted_iteration"] is None and res["final_iteration"] == 0
    assert res["code"] == ADD_SUB
    check_history(s, jid)
    assert s.git(jid).accepted() is None


def test_stuck_on_the_same_code(loop):
    s, fake = loop(rules(default=fenced(ADD_SUB)))
    jid = add_job(s)
    h = s.wait(jid, timeout=60)
    assert h["stop_reason"] == "stuck_same_code" and h["iterations"] == "1", h
    assert len(fake.requests()) == 2
    check_history(s, jid)


def test_stuck_on_the_same_failure(loop):
    s, fake = loop(rules((REPAIR, fenced(ADD_SUB2)), default=fenced(ADD_SUB)))
    jid = add_job(s)
    h = s.wait(jid, timeout=60)
    assert h["stop_reason"] == "stuck_same_failure" and h["iterations"] == "1", h
    _, its = check_history(s, jid)
    r0, r1 = (json.loads(i["report"])["loop"] for i in its)
    assert r0["code_hash"] != r1["code_hash"] and r0["failure_hash"] == r1["failure_hash"]


def test_max_iterations(loop):
    s, fake = loop(rules((REPAIR, [fenced(ADD_MUL), fenced(ADD_ZERO), fenced(ADD_OK)]),
                         default=fenced(ADD_SUB)))
    jid = add_job(s, max_iterations=3)
    h = s.wait(jid, timeout=60)
    assert h["stop_reason"] == "max_iterations" and h["iterations"] == "2", h
    res = s.result(jid)
    # Nothing passed: the best ranked iteration is the result.
    scores = [it["score"] for it in res["history"]]
    assert res["final_iteration"] == max(range(3), key=lambda i: (scores[i], i))
    check_history(s, jid)


def test_token_budget(loop):
    s, fake = loop(rules(default=fenced(ADD_SUB)))
    jid = add_job(s, budget={"tokens": 50})
    h = s.wait(jid, timeout=60)
    assert h["stop_reason"] == "budget_tokens" and h["iterations"] == "0", h
    assert int(h["tokens_total"]) >= 50


def test_wall_budget_cuts_a_slow_model_call(loop):
    # The repair's answer would take 600 s, far beyond the test's wait; the
    # call gets what is left of the 1.5 s budget (at least 1 s) and is cut off.
    s, fake = loop(rules((REPAIR, fenced(ADD_OK), 600.0), default=fenced(ADD_SUB)),
                   **{"llm-retries": 0})
    jid = add_job(s, budget={"wall_s": 1.5}, static_checks=False)
    h = s.wait(jid, timeout=60)
    assert h["stop_reason"] == "budget_wall" and h["iterations"] == "0", h
    res = s.result(jid)
    assert res["stop_detail"] == "the wall-clock budget ran out while the model answered"
    assert len(fake.requests()) == 2


def test_no_code(loop):
    s, fake = loop(rules(default="I cannot write code for that, sorry."))
    jid = add_job(s)
    h = s.wait(jid, timeout=60)
    assert h["stop_reason"] == "no_code" and h["iterations"] == "1", h
    hist, its = check_history(s, jid)
    assert all(i["code"] == "" for i in its)
    rep = json.loads(its[0]["report"])
    assert rep["status"] == "no_code" and "cannot write code" in rep["reply"]
    assert [i["phase"] for i in its] == ["generate", "generate"]


def test_without_tests_the_code_must_run_cleanly(loop):
    bad = "import nonexistent_module_xyz\nprint('hello')\n"
    good = "print('hello')\n"
    s, fake = loop(rules((REPAIR, fenced(good)), default=fenced(bad)))
    jid = s.submit_loop(prompt="Print hello.", strategy="repair")
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "1" and h["iterations"] == "1", h
    hist, its = check_history(s, jid)
    assert "ModuleNotFoundError" in fake.requests()[1]["user"]
    assert set(s.git(jid).files(hist[0]["oid"])) == {"solution.py", "report.json"}
    assert s.result(jid)["stdout"] == "hello\n"


def test_refactor_kept(loop):
    lint = "import os\n\n\ndef add(a, b):\n    return a + b\n"
    s, fake = loop(rules((REFACTOR, fenced(ADD_OK)), default=fenced(lint)))
    jid = add_job(s, refactor=True)
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "1" and h["stop_reason"] == "passed" and h["iterations"] == "1"
    res = s.result(jid)
    assert res["refactor"]["status"] == "kept" and res["code"] == ADD_OK
    assert res["accepted_iteration"] == 1
    hist, its = check_history(s, jid)
    assert its[1]["phase"] == "refactor" and its[1]["refactor"] == "kept"
    assert s.git(jid).accepted() == hist[1]["oid"]
    # The review named the lint finding.
    assert "'os' imported but unused" in fake.requests()[1]["user"]


def test_refactor_that_breaks_a_test_is_rejected(loop):
    s, fake = loop(rules((REFACTOR, fenced(ADD_MUL)), default=fenced(ADD_OK)))
    jid = add_job(s, refactor=True)
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "1" and h["stop_reason"] == "passed", h
    res = s.result(jid)
    assert res["refactor"]["status"] == "rejected"
    assert "does not pass" in res["refactor"]["reason"]
    assert res["code"] == ADD_OK and res["accepted_iteration"] == 0
    assert res["final_iteration"] == 0 and res["iterations"] == 2
    hist, its = check_history(s, jid)
    assert its[1]["refactor"] == "rejected" and its[1]["passed"] == "0"
    assert hist[1]["subject"].startswith("refactor rejected: ")
    g = s.git(jid)
    assert g.accepted() == hist[0]["oid"] and h["commit"] == hist[0]["oid"]
    assert json.loads(g.files(hist[1]["oid"])["report.json"])["loop"]["refactor"]["kept"] is False


def test_refactor_that_changes_nothing_is_not_kept(loop):
    s, fake = loop(rules((REFACTOR, fenced(ADD_OK)), default=fenced(ADD_OK)))
    jid = add_job(s, refactor=True)
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "1" and h["stop_reason"] == "passed", h
    res = s.result(jid)
    assert res["refactor"] == {"status": "rejected", "reason": "the model returned the same code"}
    assert res["accepted_iteration"] == 0
    hist, its = check_history(s, jid)
    assert its[1]["passed"] == "1" and its[1]["refactor"] == "rejected"
    assert s.git(jid).accepted() == hist[0]["oid"]


def test_sample_strategy_ranks_candidates_and_repairs_the_best(loop):
    # ADD_DOUBLE passes 2 of 4 tests, the others 1: it is repaired.
    s, fake = loop(rules(("return a * 2", fenced(ADD_OK)),
                         default=[fenced(ADD_ZERO), fenced(ADD_DOUBLE), fenced(ADD_SUB)]))
    jid = add_job(s, strategy="sample", n=3, temperature=0.7)
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "1" and h["iterations"] == "1", h
    hist, its = check_history(s, jid)
    assert [i["phase"] for i in its] == ["sample", "repair"]
    cands = json.loads(its[0]["candidates"])
    assert [c["tests_passed"] for c in cands] == [1, 2, 1]
    assert [c["chosen"] for c in cands] == [False, True, False]
    assert its[0]["code"] == ADD_DOUBLE
    reqs = fake.requests()
    assert [(r["temperature"], r["seed"]) for r in reqs[:3]] == [(0.7, 1), (0.7, 2), (0.7, 3)]
    assert int(its[0]["tokens"]) == sum(c["tokens"] for c in cands)


def test_sample_stops_drawing_at_a_pass(loop):
    s, fake = loop(rules(default=[fenced(ADD_SUB), fenced(ADD_OK), fenced(ADD_ZERO)]))
    jid = add_job(s, strategy="sample", n=3)
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "1" and h["iterations"] == "0"
    assert len(fake.requests()) == 2
    assert [c["chosen"] for c in json.loads(s.iteration(jid, 0)["candidates"])] == [False, True]


def test_model_error_is_recorded(loop):
    s, fake = loop(rules(default=fenced(ADD_OK)))
    jid = add_job(s, model={"name": "no-such-model"})
    h = s.wait(jid, timeout=60)
    assert h["state"] == "done" and h["passed"] == "0", h
    assert h["stop_reason"] == "model_error"
    assert "no-such-model" in h["error"]
    res = s.result(jid)
    assert res["iterations"] == 0 and res["code"] is None and res["history"] == []


def test_cancel_stops_the_loop(loop):
    s, fake = loop(rules((REPAIR, fenced(ADD_MUL), 1.5), default=fenced(ADD_SUB)))
    jid = add_job(s, max_iterations=10)
    s.wait_for(lambda: len(fake.requests()) >= 2, what="the first repair call")
    s.cli("cancel", jid)
    h = s.wait(jid, timeout=30)
    assert h["state"] == "cancelled"
    # The worker is free again, and the cancelled job got no further.
    jid2 = add_job(s, max_iterations=1)
    s.wait(jid2, timeout=60)
    n = len(fake.requests())
    assert n <= 3, n
    its = s.iterations(jid)
    assert len(its) <= 1
    hist = s.git(jid).history()
    assert len(hist) == len(its)


def test_deploys_an_accepted_job_to_the_remote(loop, tmp_path):
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    s, fake = loop(rules((REPAIR, fenced(ADD_OK)), default=[fenced(ADD_SUB), fenced(ADD_ZERO)]),
                   **{"push-url": str(remote)})
    ok = add_job(s)
    failed = add_job(s, max_iterations=1)
    h = s.wait(ok, timeout=60)
    assert h["passed"] == "1"
    assert s.wait(failed, timeout=60)["passed"] == "0"
    dep = s.result(ok)["deployed"]
    assert dep["ok"] is True and dep["ref"] == f"refs/heads/llmrepl/{ok}", dep
    assert s.result(failed)["deployed"] is None
    head = subprocess.run(["git", "--git-dir", str(remote), "rev-parse", dep["ref"]],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert head == h["commit"]
    refs = subprocess.run(["git", "--git-dir", str(remote), "for-each-ref", "--format=%(refname)"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert refs == [dep["ref"]]
    subprocess.run(["git", "--git-dir", str(remote), "fsck", "--strict"], check=True,
                   capture_output=True)


def test_export_and_log(loop, tmp_path):
    s, fake = loop(rules((REPAIR, fenced(ADD_OK)), default=fenced(ADD_SUB)))
    jid = add_job(s)
    h = s.wait(jid, timeout=60)
    out = tmp_path / "export"
    s.cli("export", jid, str(out))
    fsck = subprocess.run(["git", "-C", str(out), "fsck", "--strict"], capture_output=True,
                          text=True)
    assert fsck.returncode == 0, fsck.stderr
    subjects = subprocess.run(["git", "-C", str(out), "log", "--format=%s"], capture_output=True,
                              text=True, check=True).stdout.splitlines()
    assert subjects == [it["summary"] for it in reversed(s.iterations(jid))]
    assert (out / "solution.py").read_text() == ADD_OK
    tag = subprocess.run(["git", "-C", str(out), "rev-parse", "accepted^{commit}"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert tag == h["commit"]
    log = s.cli("log", jid).stdout.splitlines()
    assert len(log) == 2 and "accepted" in log[0] and log[0].startswith(h["commit"])


def test_example_usage_with_a_syntax_error_is_dropped(loop):
    # The function is right; the reply's example usage after it does not even
    # parse. The usage goes, the function is tested and passes.
    junk = ADD_OK + "\n# Example usage:\nprint(add(1, 2)\nresult = add(3, 4)\nprint(result)\n"
    s, fake = loop(rules(default=fenced(junk)))
    jid = add_job(s)
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "1" and h["stop_reason"] == "passed", h
    assert h["code"] == ADD_OK
    it = s.iteration(jid, 0)
    assert it["usage_dropped"] == "3"
    assert json.loads(it["report"])["loop"]["usage_dropped"] == 3


def test_model_told_the_name_the_tests_call_and_shown_the_tests(loop):
    # No entry_point in the job: the prompt still names the function the
    # tests call, and shows the tests; show_tests false keeps them out.
    s, fake = loop(rules(default=fenced(ADD_OK)))
    jid = s.submit_loop(prompt="Write a function that adds two numbers.", tests=ADD_TESTS)
    assert s.wait(jid, timeout=60)["passed"] == "1"
    user = fake.requests()[0]["user"]
    assert "must be named `add`" in user and "assert add(-1, 5) == 4" in user
    jid = s.submit_loop(prompt="Write a function that adds two numbers.", tests=ADD_TESTS,
                        show_tests=False)
    assert s.wait(jid, timeout=60)["passed"] == "1"
    user = fake.requests()[1]["user"]
    assert "must be named `add`" in user and "assert add" not in user


def test_auto_first_round_is_greedy_then_sampled(loop):
    # Strategy auto (the default): the first round's first candidate is
    # greedy, the next ones sampled; drawing stops at a pass.
    s, fake = loop(rules(default=[fenced(ADD_SUB), fenced(ADD_DOUBLE), fenced(ADD_OK),
                                  fenced(ADD_ZERO)]))
    jid = s.submit_loop(prompt=ADD_TASK, tests=ADD_TESTS, entry_point="add")
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "1" and h["iterations"] == "0", h
    assert json.loads(h["spec"])["strategy"] == "auto"
    its = s.iterations(jid)
    assert its[0]["phase"] == "sample"
    assert [c["chosen"] for c in json.loads(its[0]["candidates"])] == [False, False, True]
    reqs = fake.requests()
    assert [(r["temperature"], r["seed"]) for r in reqs] == [(0, 1), (0.4, 2), (0.4, 3)]


def test_auto_stuck_repair_samples_afresh_hotter(loop):
    # The repair gives back the same code: instead of stopping, a fresh
    # sample round from the original prompt, hotter than the first, passes.
    s, fake = loop(rules((REPAIR, fenced(ADD_SUB)),
                         default=[fenced(ADD_SUB), fenced(ADD_ZERO), fenced(ADD_DOUBLE),
                                  fenced(ADD_OK)]))
    jid = s.submit_loop(prompt=ADD_TASK, tests=ADD_TESTS, entry_point="add", n=2)
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "1" and h["stop_reason"] == "passed", h
    hist, its = check_history(s, jid)
    assert [i["phase"] for i in its] == ["sample", "repair", "sample"]
    assert its[1]["code"] == its[0]["code"] == ADD_SUB
    reqs = fake.requests()
    assert [r["seed"] for r in reqs] == [1, 2, None, 2001, 2002]
    temps = [r["temperature"] for r in reqs]
    assert temps[:3] == [0, 0.4, 0] and all(abs(t - 0.6) < 1e-9 for t in temps[3:])
    assert REPAIR not in reqs[3]["user"]  # the original prompt, not a repair


def test_auto_never_stops_for_being_stuck(loop):
    # Nothing ever passes: only max_iterations ends the loop, and the best
    # code found is the job's code.
    s, fake = loop(rules((REPAIR, fenced(ADD_SUB)),
                         default=[fenced(ADD_SUB), fenced(ADD_DOUBLE)]))
    jid = s.submit_loop(prompt=ADD_TASK, tests=ADD_TESTS, entry_point="add", n=2,
                        max_iterations=4)
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "0" and h["stop_reason"] == "max_iterations", h
    its = s.iterations(jid)
    assert len(its) == 4
    assert h["code"] == ADD_DOUBLE  # 2 of 4 tests, the best


GEN_TESTS = "Write 5 tests for `add`"  # in the prompt asking for tests
ADD_PLUS = "def add(a, b):\n    return a + b + (a == 0)\n"  # passes the wrong test too
ADD_OK2 = "def add(a, b):\n    return b + a\n"


def test_auto_without_tests_ranks_by_the_model_tests_agreement(loop):
    # No tests in the job: the model writes some (one of them wrong), every
    # candidate runs against them, and the behaviour two candidates agree on
    # (2 x 2 tests) beats the one candidate that passes all three (1 x 3).
    s, fake = loop(rules((GEN_TESTS, fenced("assert add(1, 2) == 3\nassert add(2, 2) == 4\n"
                                            "assert add(0, 0) == 1\n")),
                         default=[fenced(ADD_SUB), fenced(ADD_PLUS), fenced(ADD_OK),
                                  fenced(ADD_OK2)]))
    jid = s.submit_loop(prompt=ADD_TASK, entry_point="add", n=4)
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "1" and h["stop_reason"] == "passed", h
    assert h["code"] == ADD_OK
    it = s.iteration(jid, 0)
    assert it["phase"] == "sample" and "assert add(0, 0) == 1" in it["generated_tests"]
    cands = json.loads(it["candidates"])
    assert [c["generated_tests_passed"] for c in cands] == [0, 3, 2, 2]
    assert [c["agreement"] for c in cands] == [0, 3, 4, 4]
    assert [c["chosen"] for c in cands] == [False, False, True, False]
    assert all(c["passed"] for c in cands)  # the job's criteria: each runs cleanly
    assert it["tests_total"] == "0"  # the generated tests are not the job's
    reqs = fake.requests()
    assert GEN_TESTS in reqs[0]["user"] and len(reqs) == 5


def test_generated_tests_never_decide_passed(loop):
    # The generated tests rank, the job's criteria (here: no lint) decide.
    # Two candidates pass every generated test but have an unused import:
    # the clean one that fails them all is chosen, and it is what passes.
    lint = "import os\n\n"
    tests = (GEN_TESTS, fenced("assert add(1, 2) == 3\nassert add(2, 2) == 4\n"))
    s, _ = loop(rules(tests, default=[fenced(lint + ADD_OK), fenced(lint + ADD_OK2),
                                      fenced(ADD_SUB)]))
    jid = s.submit_loop(prompt=ADD_TASK, entry_point="add", n=3, max_iterations=1,
                        criteria={"max_lint": 0})
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "1" and h["code"] == ADD_SUB, h
    cands = json.loads(s.iteration(jid, 0)["candidates"])
    assert [c["generated_tests_passed"] for c in cands] == [2, 2, 0]
    assert [c["passed"] for c in cands] == [False, False, True]
    assert [c["chosen"] for c in cands] == [False, False, True]


def test_passing_every_generated_test_is_not_passing(loop):
    # Only candidates that pass every generated test and fail the job's
    # criteria: the job does not pass.
    lint = "import os\n\n"
    tests = (GEN_TESTS, fenced("assert add(1, 2) == 3\nassert add(2, 2) == 4\n"))
    s, _ = loop(rules(tests, default=[fenced(lint + ADD_OK), fenced(lint + ADD_OK2)]))
    jid = s.submit_loop(prompt=ADD_TASK, entry_point="add", n=2, max_iterations=1,
                        criteria={"max_lint": 0})
    h = s.wait(jid, timeout=60)
    assert h["passed"] == "0" and h["stop_reason"] == "max_iterations", h
    cands = json.loads(s.iteration(jid, 0)["candidates"])
    assert [c["generated_tests_passed"] for c in cands] == [2, 2]
    assert not any(c["passed"] for c in cands)


def test_reply_tokens_bounded_by_the_prompt(loop):
    # The worker allows 1024 tokens a reply; a call asks for what an answer
    # to its prompt could need (192 + the prompt's bytes / 3), a repair more
    # than a generate (it shows the code); the job's own max_tokens wins.
    s, fake = loop(rules((REPAIR, fenced(ADD_OK)), default=fenced(ADD_SUB)),
                   **{"llm-max-tokens": "1024"})
    jid = add_job(s)
    assert s.wait(jid, timeout=60)["passed"] == "1"
    reqs = fake.requests()
    assert [r["max_tokens"] for r in reqs] == [192 + len(r["user"].encode()) // 3
                                               for r in reqs]
    assert reqs[0]["max_tokens"] < reqs[1]["max_tokens"] < 1024
    jid = add_job(s, model={"max_tokens": 50})
    assert s.wait(jid, timeout=60)["state"] == "done"
    assert {r["max_tokens"] for r in fake.requests()[2:]} == {50}
