"""The HTTP API's jobs and the seed's endpoints over real HTTP: a real
dispatcher serving it, a real worker with the real sandbox, redis-server."""
import json
import subprocess
import time

from httptools import Api, api, evaluate, hsys  # noqa: F401

JSON = {"Content-Type": "application/json"}


def curl(*args):
    out = subprocess.run(["curl", "-sS", "-i", *args], capture_output=True, text=True, timeout=60)
    head, _, body = out.stdout.replace("\r\n", "\n").partition("\n\n")
    return int(head.split()[1]), head, body


def test_healthz_and_readyz(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    r = api.get("/readyz")
    assert r.status == 200 and r.json()["status"] == "ready"


def test_evaluate_with_curl(api):
    status, head, body = curl("-X", "POST", f"{api.base}/evaluate", "-H",
                              "Content-Type: application/json", "-d",
                              json.dumps({"code": "print('hello')\n", "static_checks": False}))
    assert status == 200, body
    out = json.loads(body)
    assert out["success"] is True and out["output"] == "hello\n" and out["error"] == ""
    assert out["job_id"] and out["report"]["stdout"] == "hello\n"
    # The seed's fields come first.
    assert list(out)[:3] == ["success", "output", "error"]


def test_evaluate_failure_is_success_false_with_the_error(api):
    r = api.post("/evaluate", {"code": "def f():\n    return 1/0\nprint(f())\n",
                               "static_checks": False})
    assert r.status == 200, r
    out = r.json()
    assert out["success"] is False and "ZeroDivisionError" in out["error"]
    assert "\n" not in out["error"]


def test_evaluate_with_tests_and_limits(api):
    r = api.post("/evaluate", {"code": "def add(a, b):\n    return a + b\n",
                               "tests": ["assert add(1, 2) == 3", "assert add(2, 2) == 4"],
                               "limits": {"timeout_s": 5}, "static_checks": False})
    out = r.json()
    assert r.status == 200 and out["success"] is True
    assert out["report"]["tests_passed"] == 2


def test_invalid_input_is_400_naming_the_field(api):
    cases = [({}, "code"), ({"code": 1}, "code"), ({"code": "x", "bogus": 1}, "bogus"),
             ({"code": "x", "limits": {"timeout_s": "1"}}, "limits.timeout_s"),
             ({"code": "x", "kind": "generate"}, "kind")]
    for body, field in cases:
        r = api.post("/evaluate", body)
        assert r.status == 400, (body, r)
        assert r.headers["content-type"] == "application/problem+json"
        p = r.json()
        assert field in p["error"] and p["detail"] == p["error"] and p["status"] == 400
    for body in ({}, {"prompt": 1}, {"prompt": "x", "code": "y"}):
        r = api.post("/generate", body)
        assert r.status == 400 and ("prompt" in r.json()["error"] or "code" in r.json()["error"])
    r = api.post("/refactor", {"code": "x"})
    assert r.status == 400 and "feedback" in r.json()["error"]


def test_wait_runs_out_202_then_location(api):
    r = api.post("/evaluate?wait=0", {"code": "import time\ntime.sleep(0.5)\nprint(3)\n",
                                      "static_checks": False})
    assert r.status == 202, r
    loc = r.headers["location"]
    assert loc == "/jobs/" + r.json()["job_id"]
    job = api.wait_job(r.json()["job_id"])
    assert job["state"] == "done" and job["passed"] is True
    assert job["result"]["stdout"] == "3\n"
    r = api.post("/evaluate?wait=abc", {"code": "1"})
    assert r.status == 400 and "wait" in r.json()["error"]


def test_post_jobs_is_the_redis_cli_protocol(api, hsys):
    spec = evaluate("print(42)\n", tests=["assert True"])
    r = api.post("/jobs", spec)
    assert r.status == 202 and r.headers["location"] == f"/jobs/{r.json()['job_id']}"
    via_http = api.wait_job(r.json()["job_id"])
    jid = hsys.submit(spec)
    via_cli = api.wait_job(jid)
    # The same record either way: the same fields, the same normalised spec.
    assert set(via_http) == set(via_cli)
    assert via_http["spec"] == via_cli["spec"]
    assert via_http["result"]["stdout"] == via_cli["result"]["stdout"] == "42\n"
    raw = hsys.job(r.json()["job_id"])
    assert raw["state"] == "done" and json.loads(raw["result"])["stdout"] == "42\n"


def test_get_unknown_job_is_404(api):
    for path in ("/jobs/1-0", "/jobs/nonsense", "/jobs/99999999999999-0/events"):
        r = api.get(path)
        assert r.status == 404, (path, r)
        assert r.headers["content-type"] == "application/problem+json"


def test_unknown_path_and_wrong_method(api):
    r = api.get("/nope")
    assert r.status == 404 and "no such path" in r.json()["error"]
    r = api.get("/evaluate")
    assert r.status == 405 and r.headers["allow"] == "POST"
    r = api.req("PUT", "/jobs")
    assert r.status == 405 and r.headers["allow"] == "GET, POST"


def test_cancel_a_running_job(api, hsys):
    r = api.post("/jobs", evaluate("import time\ntime.sleep(3)\n", limits={"timeout_s": 10}))
    jid = r.json()["job_id"]
    hsys.wait(jid, states={"running"})
    r = api.delete(f"/jobs/{jid}")
    assert r.status == 200, r
    assert r.json() == {"job_id": jid, "state": "cancelled", "previous_state": "running"}
    assert api.get(f"/jobs/{jid}").json()["state"] == "cancelled"
    r = api.delete(f"/jobs/{jid}")
    assert r.status == 409 and "already final" in r.json()["error"]


def test_post_jobs_takes_a_batch(api, hsys):
    spec = {"kind": "batch", "static_checks": False,
            "items": [{"id": "a", "code": "x = 1\n", "tests": "assert x == 1"},
                      {"id": "b", "code": "x = 2\n", "tests": "assert x == 1"}]}
    r = api.post("/jobs", spec)
    assert r.status == 202
    job = api.wait_job(r.json()["job_id"])
    assert job["kind"] == "batch" and job["passed"] in (0, False) and job["items_passed"] == 1
    assert [(i["id"], i["passed"]) for i in job["result"]["items"]] == [("a", True), ("b", False)]


def test_list_jobs_pages_with_link(api, hsys):
    ids = {api.post("/jobs", evaluate(f"print({i})")).json()["job_id"] for i in range(7)}
    for jid in ids:
        hsys.wait(jid)
    seen, path, pages = [], "/jobs?limit=2", 0
    while path:
        r = api.get(path)
        assert r.status == 200
        page = r.json()
        seen += [j["id"] for j in page["jobs"]]
        assert (page["next"] is None) == ("link" not in r.headers)
        if page["next"]:
            assert r.headers["link"] == f'<{page["next"]}>; rel="next"'
        path = page["next"]
        pages += 1
        assert pages < 50
    assert ids <= set(seen) and len(seen) == len(set(seen))
    done = api.get("/jobs?state=done&limit=100").json()["jobs"]
    assert all(j["state"] == "done" for j in done)
    assert api.get("/jobs?limit=0").status == 400
    assert api.get("/jobs?state=bogus").status == 400


def test_events_followed_to_the_end_and_resumed(api, hsys):
    jid = api.post("/jobs", evaluate("import time\ntime.sleep(0.3)\nprint(1)\n")).json()["job_id"]
    events = api.events(jid)
    types = [e[1] for e in events]
    assert types[0] == "queued" and "running" in types and types[-1] == "done"
    stream = hsys.r.xrange(hsys.key("job", jid, "events"))
    assert [e[0] for e in events] == [s[0] for s in stream]
    assert events[-1][2]["passed"] == "1"
    # Resumed after the first event: the rest, nothing twice.
    rest = api.events(jid, last_event_id=events[0][0])
    assert rest == events[1:]
    # After the last one: the stream ends at once (a stream left open would
    # never end here: the job is over, nothing more comes but keepalives).
    assert api.events(jid, last_event_id=events[-1][0], timeout=60) == []
    r = api.get(f"/jobs/{jid}/events", headers={"Last-Event-ID": "x"})
    assert r.status == 400


def test_idempotency_key_returns_the_same_job(api, hsys):
    spec = evaluate("print('once')")
    a = api.post("/jobs", spec, headers={"Idempotency-Key": "k-1"})
    b = api.post("/jobs", spec, headers={"Idempotency-Key": "k-1"})
    assert a.status == b.status == 202
    assert a.json()["job_id"] == b.json()["job_id"]
    assert b.headers.get("idempotent-replayed") == "true"
    hsys.wait(a.json()["job_id"])
    c = api.post("/jobs", spec, headers={"Idempotency-Key": "k-1"})
    assert c.json()["job_id"] == a.json()["job_id"]
    assert hsys.stats()["total:submitted"] == "1"
    # The same key with another body is an error, not another job.
    d = api.post("/jobs", evaluate("print('twice')"), headers={"Idempotency-Key": "k-1"})
    assert d.status == 422 and a.json()["job_id"] in d.json()["error"]
    # In the spec too, and on the seed endpoints.
    e = api.post("/jobs", {**spec, "idempotency_key": "k-2"})
    f = api.post("/jobs", {**spec, "idempotency_key": "k-2"})
    assert e.json()["job_id"] == f.json()["job_id"] != a.json()["job_id"]
    g = api.post("/evaluate", {"code": "print(7)", "static_checks": False},
                 headers={"Idempotency-Key": "k-3"})
    h = api.post("/evaluate", {"code": "print(7)", "static_checks": False},
                 headers={"Idempotency-Key": "k-3"})
    assert g.json()["job_id"] == h.json()["job_id"] and h.json()["output"] == "7\n"
    assert api.post("/jobs", spec, headers={"Idempotency-Key": "a b"}).status == 400


def test_cancelled_while_waited_for_is_409(api, hsys):
    import threading
    out = {}

    def call():
        out["r"] = api.post("/evaluate?wait=20", {"code": "import time\ntime.sleep(3)",
                                                  "static_checks": False})

    t = threading.Thread(target=call)
    t.start()
    jid = hsys.wait_for(lambda: _running_job(hsys), what="a running job")
    assert api.delete(f"/jobs/{jid}").status == 200
    t.join(timeout=30)
    r = out["r"]
    assert r.status == 409 and "cancelled" in r.json()["error"], r


def _running_job(hsys):
    for k in hsys.r.scan_iter(hsys.key("job", "*")):
        if k.count(":") == 2 and hsys.r.hget(k, "state") == "running":
            return k.split(":")[-1]
    return None


def test_docs_without_swagger_ui_says_how_to_install(hsys, tmp_path):
    hsys.http_dispatcher(**{"http-docs-dir": str(tmp_path / "none")})
    api = hsys.api()
    r = api.get("/docs")
    assert r.status == 200 and b"swagger-ui-bundle.js" in r.body  # the page itself
    r = api.get("/docs/swagger-ui-bundle.js")
    assert r.status == 404 and "/docs" in r.json()["error"]
    assert api.get("/openapi.json").status == 200
    r = api.get("/")
    assert r.status == 302 and r.headers["location"] == "/docs"


def test_event_stream_keeps_alive_while_queued(hsys):
    """No worker: the job waits queued, the stream sends comment lines, and
    the first event is there at once."""
    import socket
    hsys.http_dispatcher(**{"http-keepalive-s": 1})
    api = hsys.api()
    jid = api.post("/jobs", evaluate("print(1)")).json()["job_id"]
    s = socket.create_connection(("127.0.0.1", hsys.ports[0]), timeout=10)
    s.sendall(f"GET /jobs/{jid}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    got, t0 = b"", time.time()
    while got.count(b": keepalive") < 2 and time.time() - t0 < 8:
        got += s.recv(4096)
    s.close()
    assert b"HTTP/1.1 200" in got and b"event: queued" in got
    assert got.count(b": keepalive") >= 2


def test_idempotency_key_in_a_spec_through_redis(api, hsys):
    """The key also works for specs sent straight to Redis: the repeat is not
    a second job, and HTTP with the same key names the same job."""
    spec = {"kind": "evaluate", "code": "print('k')", "static_checks": False,
            "idempotency_key": "cli-1"}
    first = hsys.submit(spec)
    h = hsys.wait(first)
    assert h["state"] == "done" and "idempotency_key" not in json.loads(h["spec"])
    again = hsys.submit(spec)
    h2 = hsys.wait(again)
    assert h2["state"] == "rejected" and first in h2["error"], h2
    r = api.post("/jobs", spec)
    assert r.status == 202 and r.json()["job_id"] == first
    assert r.headers.get("idempotent-replayed") == "true"
    # The same key with another spec: HTTP says so; the intake names the holder.
    r = api.post("/jobs", {**spec, "code": "print('other')"})
    assert r.status == 422 and first in r.json()["error"]


def test_requests_are_counted_in_metrics(api):
    api.post("/evaluate", {"code": "print(1)", "static_checks": False})
    api.get("/jobs/1-0")
    text = api.get("/metrics").body.decode()
    assert 'llmrepl_http_requests_total{route="/evaluate",code="200"} 1' in text, text[-3000:]
    assert 'llmrepl_http_requests_total{route="/jobs/{id}",code="404"} 1' in text
    assert 'llmrepl_http_request_seconds_count{route="/evaluate"} 1' in text
