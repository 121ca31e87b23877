"""REPL sessions over HTTP: POST /sessions, POST /sessions/{id}/exec,
DELETE /sessions/{id}, with a real dispatcher, worker and sandbox."""
import json
import subprocess

from httptools import api, hsys  # noqa: F401


def test_session_over_http(api):
    r = api.post("/sessions", {"idle_timeout_s": 60, "limits": {"timeout_s": 2}})
    assert r.status == 201, r
    s = r.json()
    sid = s["session"]
    assert r.headers["location"] == f"/sessions/{sid}" and s["timeout_s"] == 2
    r = api.post(f"/sessions/{sid}/exec", {"code": "xs = [3, 1, 2]\nprint(len(xs))"})
    assert r.status == 200, r
    out = r.json()
    assert out["stdout"] == "3\n" and out["value"] == "" and out["passed"] is True, out
    out = api.post(f"/sessions/{sid}/exec", {"code": "sorted(xs)"}).json()
    assert out["value"] == "[1, 2, 3]" and out["replayed"] == 0 and out["cell"] == 2, out
    out = api.post(f"/sessions/{sid}/exec", {"code": "xs[10]"}).json()
    assert out["passed"] is False and out["error"].startswith("IndexError"), out
    assert "<cell 3>" in out["traceback"]
    out = api.post(f"/sessions/{sid}/exec", {"code": "while True: pass"}).json()
    assert out["passed"] is False and "time limit of 2 s" in out["error"], out
    r = api.delete(f"/sessions/{sid}")
    assert r.status == 200 and r.json()["closed"] is True, r
    r = api.post(f"/sessions/{sid}/exec", {"code": "xs"})
    assert r.status == 404 and "does not exist" in r.json()["detail"], r
    assert api.delete(f"/sessions/{sid}").status == 404


def test_session_requests_are_checked(api):
    assert api.post("/sessions", {"max_cells": 0}).status == 400
    assert api.post("/sessions", {"kind": "loop"}).status == 400
    assert api.post("/sessions/1-0/exec", {}).status == 400  # no code
    assert api.post("/sessions/nope/exec", {"code": "1"}).status == 404
    assert api.get("/sessions").status == 405
    assert api.get("/sessions/1-0").status == 405


def test_session_with_curl(api):
    def curl(*args):
        p = subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=60)
        return json.loads(p.stdout)

    sid = curl("-X", "POST", f"{api.base}/sessions", "-H", "Content-Type: application/json",
               "-d", "{}")["session"]
    out = curl("-X", "POST", f"{api.base}/sessions/{sid}/exec", "-H",
               "Content-Type: application/json", "-d", json.dumps({"code": "6 * 7"}))
    assert out["value"] == "42", out
    assert curl("-X", "DELETE", f"{api.base}/sessions/{sid}")["closed"] is True


def test_code_on_a_sessions_state_and_its_history_over_http(api):
    sid = api.post("/sessions", {}).json()["session"]
    api.post(f"/sessions/{sid}/exec", {"code": "rate = 3"})
    api.post(f"/sessions/{sid}/exec", {"code": "def cost(n):\n    return n * rate"})
    r = api.post("/evaluate", {"code": "def bill():\n    return cost(2) + 1\n",
                               "tests": ["assert bill() == 7"], "session": sid})
    assert r.status == 200 and r.json()["success"] is True, r.json()
    r = api.post("/evaluate", {"code": "x = 1\n", "session": "1700000000000-0"})
    assert r.json()["success"] is False and "does not exist" in r.json()["error"], r.json()
    # One commit per cell in the session's history, read as the open job's
    # (each made right after its cell's answer, before the worker's next job).
    h = api.get(f"/jobs/{sid}/history").json()
    assert [c["iteration"] for c in h["commits"]] == [1, 0], h
    assert h["commits"][0]["subject"] == "cell 2: ok", h
    assert api.get(f"/sessions/{sid}/history").json() == h
    assert api.get("/sessions/1700000000000-0/history").status == 404
