"""The seed's model operations over HTTP (/generate, /refactor, /loop) with a
real worker against the scripted model server (fake_llm, tests/fixtures), and
a client generated from /openapi.json by openapi-python-client calling all
three seed endpoints."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from httptools import ROOT, hsys  # noqa: F401

ADD = "def add(a, b):\n    return a + b\n"
TYPED = 'def add(a: int, b: int) -> int:\n    """The sum."""\n    return a + b\n'


def fenced(code):
    return "Here you go:\n\n```python\n" + code + "```\n"


@pytest.fixture
def model_api(hsys, fake_llm, tmp_path):
    rules = [{"match": "Improve", "replies": [fenced(TYPED)]},
             {"match": "refactor", "replies": [fenced(TYPED)]},
             {"replies": [fenced(ADD)]}]
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules))
    fake = fake_llm(extra=["--replies", str(path)])
    hsys.http_dispatcher()
    hsys.worker(**{"llm-url": fake.url, "model": fake.model, "llm-stream": "false"})
    return hsys.api()


def curl_post(api, path, body):
    out = subprocess.run(["curl", "-sS", "-X", "POST", f"{api.base}{path}", "-H",
                          "Content-Type: application/json", "-d", json.dumps(body), "-w",
                          "\n%{http_code}"], capture_output=True, text=True, timeout=60)
    text, _, code = out.stdout.rpartition("\n")
    return int(code), json.loads(text)


def test_generate_refactor_and_loop(model_api):
    api = model_api
    # With curl, as the README shows.
    code, out = curl_post(api, "/generate", {"prompt": "Write add(a, b)."})
    assert code == 200 and "return a + b" in out["code"], out
    code, out = curl_post(api, "/refactor", {"code": ADD, "feedback": "Add type hints."})
    assert code == 200 and "-> int" in out["refactored_code"], out
    r = api.post("/generate", {"prompt": "Write add(a, b).", "tests": ["assert add(1, 2) == 3"],
                               "entry_point": "add"})
    assert r.status == 200, r
    out = r.json()
    assert list(out)[0] == "code" and "return a + b" in out["code"]
    assert out["passed"] is True and out["job_id"]
    r = api.post("/refactor", {"code": ADD, "feedback": "Add type hints and a docstring."})
    assert r.status == 200, r
    assert list(r.json())[0] == "refactored_code"
    assert "-> int" in r.json()["refactored_code"]
    r = api.post("/loop", {"prompt": "Write add(a, b).", "tests": "assert add(1, 2) == 3\n",
                           "entry_point": "add", "max_iterations": 2})
    assert r.status == 200, r
    jid = r.json()["job_id"]
    assert r.json()["passed"] is True and "return a + b" in r.json()["code"]
    it = api.get(f"/jobs/{jid}/iterations/0")
    assert it.status == 200 and "return a + b" in it.json()["code"]
    assert api.get(f"/jobs/{jid}/iterations/99").status == 404
    assert api.get(f"/jobs/{jid}/iterations/x").status == 400


def test_generated_client(model_api, tmp_path):
    venv = ROOT / ".venv-http" / "bin"
    if not (venv / "openapi-python-client").exists():
        pytest.fail("run deploy/deps_http.sh (openapi-python-client in .venv-http)")
    doc = tmp_path / "openapi.json"
    doc.write_bytes(model_api.get("/openapi.json").body)
    gen = subprocess.run([str(venv / "openapi-python-client"), "generate", "--path", str(doc),
                          "--output-path", str(tmp_path / "client"), "--meta", "none"],
                         capture_output=True, text=True, timeout=300)
    assert gen.returncode == 0, gen.stdout + gen.stderr
    assert "Warning" not in gen.stdout, gen.stdout
    script = f"""
import sys
sys.path.insert(0, {str(tmp_path)!r})
from client import Client
from client.api.seed import evaluate, generate, refactor
from client.models import EvaluateRequest, GenerateRequest, RefactorRequest
c = Client(base_url={model_api.base!r}, timeout=60)
e = evaluate.sync(client=c, body=EvaluateRequest(code="print(6 * 7)", static_checks=False))
assert e.success is True and e.output == "42\\n" and e.error == "", e
g = generate.sync(client=c, body=GenerateRequest(prompt="Write add(a, b)."))
assert "return a + b" in g.code, g
r = refactor.sync(client=c, body=RefactorRequest(code={ADD!r}, feedback="Add type hints."))
assert "-> int" in r.refactored_code, r
bad = evaluate.sync_detailed(client=c, body=EvaluateRequest(code="1", static_checks=False),
                             wait=-1)
assert bad.status_code == 400, bad
print("client ok")
"""
    run = subprocess.run([str(venv / "python"), "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0 and "client ok" in run.stdout, run.stdout + run.stderr


def test_history_and_repository(model_api, tmp_path):
    import io
    import tarfile
    api = model_api
    r = api.post("/loop", {"prompt": "Write add(a, b).", "tests": "assert add(1, 2) == 3\n",
                           "entry_point": "add", "max_iterations": 2})
    assert r.status == 200, r
    jid = r.json()["job_id"]
    h = api.get(f"/jobs/{jid}/history")
    assert h.status == 200, h
    commits = h.json()["commits"]
    assert commits and commits[0]["iteration"] == 0 and commits[0]["accepted"] is True
    assert len(commits[0]["commit"]) == 40
    t = api.get(f"/jobs/{jid}/repository.tar.gz")
    assert t.status == 200 and t.headers["content-type"] == "application/gzip"
    assert f"llmrepl-{jid}.tar.gz" in t.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(t.body), mode="r:gz") as tf:
        for m in tf.getmembers():  # plain files and directories under one top directory
            assert m.name.startswith(f"llmrepl-{jid}") and ".." not in m.name, m.name
            assert m.isfile() or m.isdir(), m.name
        tf.extractall(tmp_path / "x")
    repo = tmp_path / "x" / f"llmrepl-{jid}"
    assert "return a + b" in (repo / "solution.py").read_text()
    log = subprocess.run(["git", "-C", str(repo), "log", "--format=%H"], capture_output=True,
                         text=True, check=True).stdout.split()
    assert log[0] == commits[0]["commit"]
    fsck = subprocess.run(["git", "-C", str(repo), "fsck", "--strict"], capture_output=True,
                          text=True)
    assert fsck.returncode == 0, fsck.stderr
    # An evaluate job has no history; an unknown job is not there at all.
    ev = api.post("/evaluate", {"code": "print(1)", "static_checks": False}).json()["job_id"]
    r = api.get(f"/jobs/{ev}/repository.tar.gz")
    assert r.status == 404 and "no git history" in r.json()["error"]
    assert api.get(f"/jobs/{ev}/history").json()["commits"] == []
    assert api.get("/jobs/1-0/history").status == 404


def test_mcp_generate_tool(model_api):
    r = model_api.post("/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                "params": {"name": "generate",
                                           "arguments": {"prompt": "Write add(a, b)."}}})
    res = r.json()["result"]
    assert res["isError"] is False and "return a + b" in res["structuredContent"]["code"]
