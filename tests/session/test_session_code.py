"""Code tested on a REPL session's state: evaluate, generate and loop jobs
that name a `session`. Real dispatcher and workers, the real sandbox (with
the judge/candidate split), real git objects; the scripted model server for
generate and loop."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loop"))
from looptools import GitHistory, fenced, rules  # noqa: E402

SETUP = "data = [3, 1, 2]\ndef scale(x):\n    return 10 * x\nprint('loaded')"


def open_session(system, *cells):
    h = system.wait(system.submit({"kind": "session_open"}))
    sid = h["session"]
    for c in cells:
        assert cell(system, sid, c)["passed"] == "1"
    return sid


def cell(system, sid, code):
    """The cell's answer; a passed cell is recorded and its commit follows the
    answer (the job's `commit`): waited for, so the session's history is read
    whole."""
    jid = system.submit({"kind": "exec", "session": sid, "code": code})
    h = system.wait(jid)
    if h.get("passed") == "1":
        system.wait_for(lambda: system.job(jid).get("commit"), what=f"the commit of job {jid}")
    return h


def evaluate(system, code, tests, **fields):
    h = system.wait(system.submit({"kind": "evaluate", "code": code, "tests": tests, **fields}))
    assert h["state"] == "done", h
    h["report"] = json.loads(h["result"])
    return h


@pytest.mark.parametrize("split", ["1", "0"])
def test_evaluate_on_a_sessions_state_leaves_the_session_alone(system, split):
    """split 0: the code and the tests in one process (no judge/candidate split)."""
    system.dispatcher()
    system.worker(split=split)
    sid = open_session(system, SETUP, "data.append(5)")
    heads = GitHistory(system.raw, "llmrepl:", sid).refs
    code = "def top():\n    data.sort()\n    data.append(99)\n    return scale(data[0])\n"
    h = evaluate(system, code, "assert top() == 10\nassert scale(2) == 20",
                 session=sid)
    assert h["passed"] == "1", (h["error"], h["report"].get("tests"))
    assert h["session"] == sid and h["session_cells"] == "2", h
    rep = h["report"]
    assert rep["integrity"] == ("split" if split == "1" else "in_process"), rep["integrity"]
    # The cells' names are known to the static checks: no undefined names.
    assert not [f for f in rep["static"]["pyflakes"].get("findings", [])
                if "undefined name" in f.get("message", "")], rep["static"]["pyflakes"]
    assert "loaded" not in rep["stdout"]  # the cells' output is the session's, not the code's
    # The session is as it was: its state, its record, its history.
    assert cell(system, sid, "data")["value"] == "[3, 1, 2, 5]"
    assert system.r.hget(system.key("session", sid), "cells") == "3"
    g = GitHistory(system.raw, "llmrepl:", sid)
    assert len(g.history()) == 3 and heads != g.refs  # only the cell above added one
    # Without the session the same code knows none of it.
    h = evaluate(system, code, "assert top() == 10")
    assert h["passed"] == "0" and "NameError" in json.dumps(h["report"]), h


def _findings(static):
    return {t: {k: v for k, v in static[t].items() if k != "duration_s"}
            for t in ("pyflakes", "bandit", "radon")}


def _undefined(rep):
    return [f["message"] for f in rep["static"]["pyflakes"]["findings"]
            if f["code"] == "UndefinedName"]


def test_static_checks_after_cells_from_the_service_and_from_the_judge(system):
    """The static service knows the names a session's cells define, as the
    judge's own checks do (the service off); its cache keeps code checked
    with a session's names apart from the same code checked without."""
    system.dispatcher()
    first = system.worker()
    sid = open_session(system, SETUP, "import os as o2")
    code = "def top():\n    return scale(data[0]) + len(o2.sep) + missing\n"
    served = [evaluate(system, code, "assert top", session=sid)["report"] for _ in range(2)]
    alone = evaluate(system, code, "assert True")["report"]
    assert [r["static"]["cached"] for r in served + [alone]] == [False, True, False]
    assert _undefined(served[0]) == ["undefined name 'missing'"], served[0]["static"]
    assert sorted(_undefined(alone)) == ["undefined name 'data'", "undefined name 'missing'",
                                         "undefined name 'o2'", "undefined name 'scale'"]
    first.stop()
    system.worker(static_service="0")
    judged = evaluate(system, code, "assert top", session=sid)["report"]
    assert "cached" not in judged["static"]
    assert _findings(judged["static"]) == _findings(served[0]["static"])


def test_the_sessions_names_are_on_the_codes_side_of_the_verdict(system):
    """A session whose cells try to forge the verdict only change the code's
    process: the judge's checks still fail wrong code."""
    system.dispatcher()
    system.worker()
    sid = open_session(
        system,
        "import builtins\nbuiltins.AssertionError = type('Fake', (Exception,), {})",
        "import sys\nsys.modules['llmrepl_runner'] = None\nx = 1")
    h = evaluate(system, "def f():\n    return x + 1\n", "assert f() == 3", session=sid)
    assert h["passed"] == "0" and h["report"]["tests_passed"] == 0, h
    h = evaluate(system, "def f():\n    return x + 1\n", "assert f() == 2", session=sid)
    assert h["passed"] == "1", h


def test_unknown_or_closed_session_is_a_clear_reason(system):
    system.dispatcher()
    system.worker()
    h = evaluate(system, "x = 1\n", "assert x == 1", session="1700000000000-0")
    assert h["passed"] == "0" and h["error"] == (
        "session 1700000000000-0 does not exist: it was closed, ended after its idle "
        "timeout, or never opened"), h
    sid = open_session(system, "x = 1")
    system.wait(system.submit({"kind": "session_close", "session": sid}))
    h = system.wait(system.submit({"kind": "loop", "prompt": "x", "session": sid}))
    assert h["state"] == "done" and h["passed"] == "0", h
    assert h["error"].startswith(f"session {sid} does not exist"), h
    h = system.wait(system.submit({"kind": "evaluate", "code": "1", "session": "nope"}))
    assert h["state"] == "rejected" and "session id" in h["error"], h
    h = system.wait(system.submit({"kind": "evaluate", "code": "1", "session": sid,
                                   "tests": {"io": [{"stdin": "", "stdout": ""}]}}))
    assert h["state"] == "rejected" and "io tests" in h["error"], h


def test_loop_generates_code_for_the_sessions_state(system, fake_llm, tmp_path):
    """The model is shown the session's cells; the candidates run on its state;
    the session is not changed by them."""
    good = "def total():\n    return sum(scale(v) for v in data)\n"
    bad = "def total():\n    return 0\n"
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules(("def scale(x)", fenced(good)), default=fenced(bad))))
    fake = fake_llm(extra=["--replies", str(path)])
    system.dispatcher()
    system.worker(**{"llm-url": fake.url, "model": fake.model, "llm-stream": "false"})
    sid = open_session(system, SETUP)
    jid = system.submit({"kind": "loop", "prompt": "Write total(): the scaled sum of data.",
                         "tests": "assert total() == 60", "session": sid,
                         "max_iterations": 2, "strategy": "repair"})
    h = system.wait(jid, timeout=120)
    assert h["passed"] == "1" and h["code"] == good, h
    assert h["session"] == sid and h["session_cells"] == "1", h
    prompt = fake.requests()[0]["user"]
    assert "# cell 1\ndata = [3, 1, 2]" in prompt, prompt
    # The loop's own history is the loop job's; the session's has its one cell.
    assert len(GitHistory(system.raw, "llmrepl:", jid).history()) == 1
    assert len(GitHistory(system.raw, "llmrepl:", sid).history()) == 1
    assert system.r.hget(system.key("session", sid), "cells") == "1"
    assert cell(system, sid, "'total' in globals()")["value"] == "False"
