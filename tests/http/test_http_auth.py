"""Tokens, owners and quotas over real HTTP; the limits shared by two
dispatchers through Redis."""
import threading
import time

from httptools import evaluate, hsys  # noqa: F401

ALICE, BOB, OLD = "alice-token-0123456789", "bob-token-0123456789", "old-token-0123456789"


def tokens(tmp_path):
    p = tmp_path / "tokens"
    p.write_text(f"# name token\nalice {ALICE}\nbob {BOB}\n\nmallory {OLD} revoked\n")
    return str(p)


def test_tokens_owner_and_isolation(hsys, tmp_path):
    hsys.http_dispatcher(**{"api-tokens": tokens(tmp_path)})
    hsys.worker()
    anon, alice, bob = hsys.api(), hsys.api(token=ALICE), hsys.api(token=BOB)
    r = anon.post("/jobs", evaluate("print(1)"))
    assert r.status == 401 and r.headers["www-authenticate"].startswith("Bearer")
    r = anon.post("/jobs", evaluate("print(1)"), token="wrong-token-000000")
    assert r.status == 401 and "unknown token" in r.json()["error"]
    r = anon.post("/jobs", evaluate("print(1)"), token=OLD)
    assert r.status == 403 and "revoked" in r.json()["error"]
    # Open to all: health, the document, the docs page.
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert anon.get(path).status == 200, path
    r = alice.post("/jobs", evaluate("print(1)"))
    assert r.status == 202
    jid = r.json()["job_id"]
    job = alice.wait_job(jid)
    assert job["owner"] == "alice"
    assert hsys.job(jid)["owner"] == "alice"
    # Bob cannot see, follow or cancel it, nor find it in a list.
    assert bob.get(f"/jobs/{jid}").status == 404
    assert bob.get(f"/jobs/{jid}/events").status == 404
    assert bob.delete(f"/jobs/{jid}").status == 404
    assert jid not in [j["id"] for j in bob.get("/jobs?limit=1000").json()["jobs"]]
    assert jid in [j["id"] for j in alice.get("/jobs?limit=1000").json()["jobs"]]
    # Idempotency keys are per token.
    a = alice.post("/jobs", evaluate("print(2)"), headers={"Idempotency-Key": "same"})
    b = bob.post("/jobs", evaluate("print(2)"), headers={"Idempotency-Key": "same"})
    assert a.json()["job_id"] != b.json()["job_id"]
    # A job submitted with redis-cli has no owner: no token sees it.
    cli = hsys.submit(evaluate("print(3)"))
    hsys.wait(cli)
    assert alice.get(f"/jobs/{cli}").status == 404


def test_rate_limit_shared_by_two_dispatchers(hsys, tmp_path):
    settings = {"api-tokens": tokens(tmp_path), "http-rate": 5}
    hsys.http_dispatcher(**settings)
    hsys.http_dispatcher(**settings)
    apis = [hsys.api(0, token=ALICE), hsys.api(1, token=ALICE)]
    codes, lock = [], threading.Lock()

    def go(i):
        r = apis[i % 2].get("/jobs?limit=1")
        with lock:
            codes.append((r.status, r.headers.get("retry-after")))

    # Twenty at once through both dispatchers: one count in Redis for both,
    # at most 5 a second pass, whatever the machine's load spreads them over.
    t0 = time.time()
    ts = [threading.Thread(target=go, args=(i,)) for i in range(20)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    seconds = int(time.time() - t0) + 2  # windows the burst can have touched
    ok = sum(1 for c, _ in codes if c == 200)
    limited = [ra for c, ra in codes if c == 429]
    assert len(codes) == 20 and ok + len(limited) == 20, codes
    assert 5 <= ok <= 5 * seconds and limited, codes
    assert all(ra == "1" for ra in limited)
    # Bob has a window of his own.
    assert hsys.api(1, token=BOB).get("/jobs?limit=1").status == 200
    time.sleep(1.1)
    assert apis[0].get("/jobs?limit=1").status == 200


def test_jobs_in_flight_per_token_across_dispatchers(hsys, tmp_path):
    settings = {"api-tokens": tokens(tmp_path), "http-max-inflight": 2}
    hsys.http_dispatcher(**settings)
    hsys.http_dispatcher(**settings)
    a, b = hsys.api(0, token=ALICE), hsys.api(1, token=ALICE)
    slow = evaluate("import time\ntime.sleep(30)", limits={"timeout_s": 40})
    j1 = a.post("/jobs", slow)
    j2 = b.post("/jobs", slow)
    assert j1.status == j2.status == 202
    r = a.post("/jobs", slow)
    assert r.status == 429 and r.headers["retry-after"] and "in flight" in r.json()["error"]
    assert b.post("/evaluate", {"code": "1"}).status == 429
    # Bob is not held up by Alice's jobs.
    assert hsys.api(0, token=BOB).post("/jobs", slow).status == 202
    # A finished job frees its place (no worker here: cancel one).
    hsys.wait(j1.json()["job_id"], states={"queued"})
    assert a.delete(f"/jobs/{j1.json()['job_id']}").status == 200
    deadline = time.time() + 10
    while time.time() < deadline:
        r = b.post("/jobs", slow)
        if r.status == 202:
            break
        time.sleep(0.2)
    assert r.status == 202, r


def test_queue_full_is_503(hsys, tmp_path):
    hsys.http_dispatcher(**{"max-queue": 3})
    api = hsys.api()
    ids = [api.post("/jobs", evaluate(f"print({i})")).json()["job_id"] for i in range(3)]
    assert len(set(ids)) == 3
    r = api.post("/jobs", evaluate("print(4)"))
    assert r.status == 503 and r.headers["retry-after"] and "queue is full" in r.json()["error"]
    hsys.wait(ids[0], states={"queued"})
    assert api.delete(f"/jobs/{ids[0]}").status == 200
    deadline = time.time() + 10
    while api.post("/jobs", evaluate("print(5)")).status != 202:
        assert time.time() < deadline
        time.sleep(0.2)


def test_parallel_submissions_respect_the_cap(hsys, tmp_path):
    """Twenty submissions at once through two dispatchers: the in-flight
    cap holds exactly (the check and the XADD are one script)."""
    settings = {"api-tokens": tokens(tmp_path), "http-max-inflight": 5}
    hsys.http_dispatcher(**settings)
    hsys.http_dispatcher(**settings)
    apis = [hsys.api(0, token=ALICE), hsys.api(1, token=ALICE)]
    slow = evaluate("import time\ntime.sleep(30)", limits={"timeout_s": 40})
    codes = []
    lock = threading.Lock()

    def go(i):
        r = apis[i % 2].post("/jobs", slow)
        with lock:
            codes.append(r.status)

    ts = [threading.Thread(target=go, args=(i,)) for i in range(20)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert codes.count(202) == 5 and codes.count(429) == 15, codes


def test_owner_field_from_redis_cli(hsys, tmp_path):
    """The owner is a field of the request, whoever writes it: a job
    submitted with redis-cli for alice is hers over HTTP."""
    hsys.http_dispatcher(**{"api-tokens": tokens(tmp_path)})
    hsys.worker()
    jid = hsys.redis.cli("XADD", "llmrepl:requests", "*", "spec",
                         '{"kind": "evaluate", "code": "print(8)", "static_checks": false}',
                         "owner", "alice").strip()
    hsys.wait(jid)
    assert hsys.job(jid)["owner"] == "alice"
    assert hsys.api(token=ALICE).get(f"/jobs/{jid}").json()["result"]["stdout"] == "8\n"
    assert hsys.api(token=BOB).get(f"/jobs/{jid}").status == 404
