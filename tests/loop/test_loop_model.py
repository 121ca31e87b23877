"""Loop jobs end to end on the real small model behind llama.cpp's server
(the session's `llama_server`): one the model solves, and one it cannot, which
must end with a stop reason its own record justifies. Small models are weak
and greedy decoding makes them repeat themselves, so the second test checks
the stop reason against the iterations rather than expecting a fix."""
import json
import subprocess

import pytest

from looptools import check_history, model_loop_system

STOPS = {"max_iterations", "stuck_same_code", "stuck_same_failure", "no_code", "budget_tokens"}


@pytest.fixture
def system(redis_server, tmp_path, llama_server):
    s = model_loop_system(redis_server, tmp_path, llama_server)
    yield s
    s.stop_all()


def test_model_loop_passes(system, tmp_path):
    s = system
    jid = s.submit_loop(
        prompt="Write a Python function is_even(n) that returns True if n is even, else False.",
        tests=["assert is_even(2)", "assert not is_even(3)", "assert is_even(0)"],
        entry_point="is_even", max_iterations=3)
    h = s.wait(jid, timeout=900)
    assert h["state"] == "done", h
    assert h["passed"] == "1" and h["stop_reason"] == "passed", h
    hist, its = check_history(s, jid)
    assert its[-1]["passed"] == "1" and "def is_even" in h["code"]
    assert int(its[0]["tokens_prompt"]) > 0 and float(its[0]["t_model_ms"]) > 0
    assert s.git(jid).accepted() == h["commit"]
    out = tmp_path / "export"
    s.cli("export", jid, str(out))
    subprocess.run(["git", "-C", str(out), "fsck", "--strict"], check=True, capture_output=True)
    assert (out / "solution.py").read_text() == h["code"]


def test_model_loop_that_fails_stops_for_a_recorded_reason(system):
    s = system
    # Contradictory tests: no code passes them, so the loop must stop for
    # one of its own reasons, and its records must show that reason.
    jid = s.submit_loop(
        prompt="Write a Python function triple(x) that returns x multiplied by three.",
        tests=["assert triple(2) == 6", "assert triple(2) == 7"], entry_point="triple",
        max_iterations=3, strategy="repair")
    h = s.wait(jid, timeout=900)
    assert h["state"] == "done" and h["passed"] == "0", h
    stop = h["stop_reason"]
    assert stop in STOPS, h
    hist, its = check_history(s, jid)
    loops = [json.loads(i["report"])["loop"] for i in its]
    if stop == "max_iterations":
        assert len(its) == 3
    elif stop == "stuck_same_code":
        assert loops[-1]["code_hash"] == loops[-2]["code_hash"]
    elif stop == "stuck_same_failure":
        assert loops[-1]["code_hash"] != loops[-2]["code_hash"]
        assert loops[-1]["failure_hash"] == loops[-2]["failure_hash"]
    elif stop == "no_code":
        assert not loops[-1]["has_code"]
    assert {i["phase"] for i in its} <= {"generate", "repair"}
    res = s.result(jid)
    assert res["accepted_iteration"] is None and s.git(jid).accepted() is None
    assert h["error"].startswith(stop + ": ")
