"""The dispatcher with a real redis-server: validation and rejection with the
reason, the operator's caps, cancelling queued jobs, taking over a stopped
dispatcher's requests, several dispatchers without double work."""
import json

from jobsys import evaluate


BAD = [
    ("not json at all", "invalid spec: not valid JSON"),
    ("[1, 2]", "invalid spec: spec must be a JSON object, got array"),
    ('{"kind": "evaluate", "code": 5}', "invalid spec: field 'code' must be a string, got number"),
    ('{"kind": "evaluate", "code": "x", "limits": {"timeout_s": "10"}}',
     "invalid spec: field 'limits.timeout_s' must be a number, got string"),
    ('{"kind": "evaluate", "code": "x", "limits": {"memory_mb": 2.5}}',
     "invalid spec: field 'limits.memory_mb' must be an integer, got 2.5"),
    ('{"kind": "compile", "code": "x"}', "invalid spec: unknown kind 'compile'"),
    ('{"kind": "evaluate"}', "invalid spec: missing required field 'code'"),
    ('{"code": "x"}', "invalid spec: missing required field 'kind'"),
    ('{"kind": "evaluate", "code": "x", "timeout": 3}',
     "invalid spec: unknown field 'timeout' for kind 'evaluate'"),
    ('{"kind": "evaluate", "code": "x", "entry_point": "not valid"}',
     "invalid spec: field 'entry_point' must be a Python identifier"),
    ('{"kind": "evaluate", "code": "x", "tests": [1]}',
     "invalid spec: field 'tests[0]' must be a string, got number"),
    ('{"kind": "evaluate", "code": "x", "criteria": {"min_pass_rate": "all"}}',
     "invalid spec: criteria.min_pass_rate: expected"),
    ('{"kind": "loop", "prompt": "x", "strategy": "guess"}',
     "invalid spec: field 'strategy' must be \"auto\", \"repair\" or \"sample\""),
    ('{"kind": "refactor", "code": "x"}', "invalid spec: missing required field 'feedback'"),
    ('{"kind": "evaluate", "code": "' + "x" * 3000 + '"}',
     "invalid spec: field 'code' is 3000 bytes, over the limit of 2048"),
]
BIG = '{"kind": "evaluate", "code": "x", "tests": "' + "y" * 9000 + '"}'
BAD.append((BIG, f"spec is {len(BIG)} bytes, over the limit of 8192 bytes"))


def test_bad_specs_end_rejected_with_the_reason(system):
    system.dispatcher(**{"max-text-bytes": 2048, "max-spec-bytes": 8192})
    ids = [(system.submit(spec), why) for spec, why in BAD]
    no_spec = system.redis.cli("XADD", system.prefix + "requests", "*", "code", "x").strip()
    for jid, why in ids:
        h = system.wait(jid, timeout=20)
        assert h["state"] == "rejected", (why, h)
        assert h["error"].startswith(why), (why, h["error"])
        assert [e["type"] for e in system.events(jid)] == ["rejected"]
        assert system.r.ttl(system.key("job", jid)) > 0
    h = system.wait(no_spec, timeout=20)
    assert h["error"] == "request must have exactly one field 'spec' (and at most one 'owner'); it has 'code'"
    stats = system.stats()
    assert stats["total:rejected"] == str(len(BAD) + 1)
    assert system.r.xlen(system.prefix + "requests") == 0
    assert system.r.xlen(system.prefix + "jobs") == 0


def test_operator_caps_and_defaults_are_applied_and_noted(system):
    system.dispatcher(**{"max-timeout-s": 5, "default-timeout-s": 2,
                         "default-memory-mb": 128})
    jid = system.submit(evaluate("x = 1", limits={"timeout_s": 600}))
    h = system.wait(jid, states={"queued"})
    spec = json.loads(h["spec"])
    assert spec["limits"] == {"timeout_s": 5.0, "memory_mb": 128}
    assert h["notes"] == "limits.timeout_s 600 lowered to the operator's cap of 5"


def test_cancel_queued_jobs_with_the_client_and_the_control_stream(system):
    system.dispatcher()
    a = system.submit(evaluate("x = 1"))
    b = system.submit(evaluate("x = 2"))
    system.wait(a, states={"queued"})
    system.wait(b, states={"queued"})
    out = system.llmrepl("cancel", a)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"job {a}: cancelled (was queued)"
    system.redis.cli("XADD", system.prefix + "control", "*", "cancel", b)
    hb = system.wait(b)
    assert hb["state"] == "cancelled"
    assert hb["error"] == "cancelled by request on the control stream"
    for jid in (a, b):
        assert [e["type"] for e in system.events(jid)] == ["queued", "cancelled"]
        assert system.r.ttl(system.key("job", jid)) > 0
    out = system.llmrepl("cancel", a)
    assert out.returncode == 1 and "already cancelled" in out.stderr
    out = system.llmrepl("cancel", "1-1")
    assert out.returncode == 2 and "no job 1-1" in out.stderr
    assert system.r.xlen(system.prefix + "jobs") == 0
    assert system.r.xlen(system.prefix + "control") == 0
    stats = system.stats()
    assert stats["queued"] == "0" and stats["total:cancelled"] == "2"


def test_requests_of_a_stopped_dispatcher_are_taken_over(system):
    system.r.xgroup_create(system.prefix + "requests", "dispatchers", id="0", mkstream=True)
    jid = system.submit(evaluate("x = 1"))
    # A dispatcher reads the request and dies before recording it.
    system.r.xreadgroup("dispatchers", "ghost", {system.prefix + "requests": ">"}, count=1)
    system.dispatcher(**{"request-claim-ms": 300})
    h = system.wait(jid, states={"queued"}, timeout=20)
    assert h["kind"] == "evaluate"
    assert system.r.xpending(system.prefix + "requests", "dispatchers")["pending"] == 0


def test_two_dispatchers_record_each_request_once(system):
    system.dispatcher()
    system.dispatcher()
    pipe = system.r.pipeline(transaction=False)
    for i in range(300):
        pipe.xadd(system.prefix + "requests",
                  {"spec": json.dumps(evaluate(f"x = {i}") if i % 3 else {"kind": "x"})})
    ids = pipe.execute()
    system.wait_for(lambda: system.stats().get("total:submitted") == "300", timeout=60,
                    what="300 requests recorded")
    for i, jid in enumerate(ids):
        h = system.job(jid)
        assert h["state"] == ("queued" if i % 3 else "rejected"), h
        assert len(system.events(jid)) == 1
    stats = system.stats()
    assert stats["queued"] == "200" and stats["total:rejected"] == "100"
    assert system.r.xlen(system.prefix + "jobs") == 200
    assert system.r.xlen(system.prefix + "requests") == 0
    assert system.r.xpending(system.prefix + "requests", "dispatchers")["pending"] == 0


def test_requests_taken_together_are_recorded_each_with_its_own_outcome(system):
    """Requests waiting when the dispatcher starts are taken in batches and
    recorded together (one intake script per batch, up to 32): each gets its
    own outcome, queued, rejected with its reason, or the repeat of an
    idempotency key, and its own events, counters and work entry."""
    system.r.xgroup_create(system.prefix + "requests", "dispatchers", id="0", mkstream=True)
    specs, want = [], []
    for i in range(70):
        if i % 5 == 1:
            specs.append('{"kind": "evaluate"}')
            want.append(("rejected", "invalid spec: missing required field 'code'"))
        elif i % 5 == 2:
            specs.append('{"kind": "evaluate", "code": "x", "tests": "' + "y" * 9000 + '"}')
            want.append(("rejected", "spec is "))
        elif i in (3, 8):
            specs.append(json.dumps(evaluate("x = 3", idempotency_key="same")))
            want.append(("queued", None) if i == 3 else
                        ("rejected", "idempotency_key already names job "))
        else:
            specs.append(json.dumps(evaluate(f"x = {i}")))
            want.append(("queued", None))
    pipe = system.r.pipeline(transaction=False)
    for spec in specs:
        pipe.xadd(system.prefix + "requests", {"spec": spec})
    ids = pipe.execute()
    system.dispatcher(**{"max-spec-bytes": 8192, "batch": 50})
    system.wait_for(lambda: system.stats().get("total:submitted") == str(len(ids)),
                    timeout=60, what="every request recorded")
    queued = 0
    for jid, spec, (state, why) in zip(ids, specs, want):
        h = system.job(jid)
        assert h["state"] == state, (jid, spec[:60], h)
        assert [e["type"] for e in system.events(jid)] == [state]
        if why:
            assert h["error"].startswith(why), (why, h["error"])
        else:
            queued += 1
            assert h["kind"] == "evaluate" and json.loads(h["spec"])["code"].startswith("x = ")
    assert queued == sum(1 for s, _ in want if s == "queued")
    stats = system.stats()
    assert stats["queued"] == str(queued)
    assert stats["total:rejected"] == str(len(ids) - queued)
    assert system.r.xlen(system.prefix + "jobs") == queued
    assert system.r.xlen(system.prefix + "requests") == 0
    assert system.r.xpending(system.prefix + "requests", "dispatchers")["pending"] == 0


def test_client_status_of_queued_rejected_and_unknown_jobs(system):
    out = system.llmrepl("submit", "--code", "x = 1", "--json")
    assert out.returncode == 0, out.stderr
    jid = json.loads(out.stdout)["id"]
    # No dispatcher yet: the request waits.
    out = system.llmrepl("status", jid)
    assert out.returncode == 0 and "submitted (not yet taken by a dispatcher)" in out.stdout
    system.dispatcher()
    system.wait(jid, states={"queued"})
    out = system.llmrepl("status", jid, "--json")
    job = json.loads(out.stdout)
    assert job["state"] == "queued" and job["spec"]["limits"]["timeout_s"] == 10.0
    bad = system.llmrepl("submit", "--kind", "evaluate", "--prompt", "x").stdout.strip()
    h = system.wait(bad)
    out = system.llmrepl("status", bad)
    assert "rejected" in out.stdout and "unknown field 'prompt' for kind 'evaluate'" in out.stdout
    out = system.llmrepl("wait", bad)
    assert out.returncode == 1
    out = system.llmrepl("status", "nope")
    assert out.returncode == 2 and "not a job id" in out.stderr
    out = system.llmrepl("frobnicate")
    assert out.returncode == 2 and "unknown command" in out.stderr
