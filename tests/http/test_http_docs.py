"""The OpenAPI document (valid, the seed's paths first), Swagger UI in a real
browser (headless Chromium; a screenshot is kept in build/artifacts/), and an
MCP client session over HTTP."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import BUILD
from httptools import ROOT, api, hsys  # noqa: F401


def test_openapi_document_is_valid(api):
    r = api.get("/openapi.json")
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert list(doc["paths"])[:3] == ["/generate", "/evaluate", "/refactor"]
    assert doc["paths"]["/evaluate"]["post"]["operationId"] == "evaluate"
    # The seed's contract, field for field.
    s = doc["components"]["schemas"]
    assert s["GenerateRequest"]["required"] == ["prompt"]
    assert s["EvaluateResponse"]["required"][:3] == ["success", "output", "error"]
    assert s["RefactorRequest"]["required"] == ["code", "feedback"]
    assert "refactored_code" in s["RefactorResponse"]["properties"]
    py = ROOT / ".venv-http" / "bin" / "python"
    if not py.exists():
        pytest.fail("run deploy/deps_http.sh (openapi-spec-validator in .venv-http)")
    out = subprocess.run([str(py), "-c", "import json, sys\n"
                          "from openapi_spec_validator import validate\n"
                          "validate(json.load(sys.stdin))\nprint('valid')"],
                         input=r.body.decode(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "valid" in out.stdout, out.stderr
    # The document served is the one in the tree.
    assert doc == json.loads((ROOT / "dispatcher" / "http_openapi.json").read_text())


def test_swagger_ui_in_chromium(api, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("chromium is not installed (deploy/deps_http.sh)")
    r = api.get("/docs")
    assert r.status == 200 and b"swagger-ui-bundle.js" in r.body
    assert api.get("/docs/swagger-ui-bundle.js").status == 200
    assert api.get("/docs/../Makefile").status == 404
    assert api.get("/docs/.hidden").status == 404
    art = BUILD / "artifacts"
    art.mkdir(parents=True, exist_ok=True)
    shot = art / "http-docs.png"
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000",
              "--window-size=1280,1600", "--no-first-run"]
    env = dict(os.environ, HOME=str(tmp_path))
    dom = subprocess.run([*common, "--dump-dom", f"{api.base}/docs"], capture_output=True,
                         text=True, timeout=180, env=env)
    assert "/generate" in dom.stdout and "/evaluate" in dom.stdout, dom.stderr[-2000:]
    assert "opblock" in dom.stdout  # rendered operations, not just the page
    subprocess.run([*common, f"--screenshot={shot}", f"{api.base}/docs"], capture_output=True,
                   timeout=180, env=env)
    assert shot.exists() and shot.stat().st_size > 10000


def rpc(api, method, params=None, id=1):
    msg = {"jsonrpc": "2.0", "method": method}
    if id is not None:
        msg["id"] = id
    if params is not None:
        msg["params"] = params
    return api.post("/mcp", msg, headers={"Accept": "application/json, text/event-stream"})


def test_mcp_session(api):
    r = rpc(api, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                "clientInfo": {"name": "test", "version": "0"}})
    assert r.status == 200, r
    init = r.json()
    assert init["id"] == 1 and init["result"]["protocolVersion"] == "2025-06-18"
    assert "tools" in init["result"]["capabilities"]
    assert rpc(api, "notifications/initialized", id=None).status == 202
    tools = rpc(api, "tools/list", id=2).json()["result"]["tools"]
    names = [t["name"] for t in tools]
    assert names == ["generate", "evaluate", "refactor", "loop", "job_status"]
    ev = tools[1]["inputSchema"]
    assert ev["type"] == "object" and ev["required"] == ["code"]
    assert "$ref" not in json.dumps(tools)
    # The same definitions as the OpenAPI document's.
    doc = api.get("/openapi.json").json()["components"]["schemas"]["EvaluateRequest"]
    assert set(ev["properties"]) == set(doc["properties"])
    r = rpc(api, "tools/call", {"name": "evaluate",
                                "arguments": {"code": "print(6 * 7)", "static_checks": False}},
            id=3).json()
    res = r["result"]
    assert res["isError"] is False
    assert res["structuredContent"]["success"] is True
    assert res["structuredContent"]["output"] == "42\n"
    assert json.loads(res["content"][0]["text"])["output"] == "42\n"
    jid = res["structuredContent"]["job_id"]
    st = rpc(api, "tools/call", {"name": "job_status", "arguments": {"job_id": jid}}, id=4)
    assert st.json()["result"]["structuredContent"]["state"] == "done"
    # Invalid input is a tool error with the reason; protocol errors are JSON-RPC errors.
    bad = rpc(api, "tools/call", {"name": "evaluate", "arguments": {"code": 5}}, id=5).json()
    assert bad["result"]["isError"] is True and "code" in bad["result"]["content"][0]["text"]
    assert rpc(api, "tools/call", {"name": "nope", "arguments": {}}, id=6).json()["error"][
        "code"] == -32602
    assert rpc(api, "no/such", id=7).json()["error"]["code"] == -32601
    assert rpc(api, "ping", id=8).json()["result"] == {}
    r = api.req("POST", "/mcp", b"{nope", headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.json()["error"]["code"] == -32700
    assert api.get("/mcp").status == 405
