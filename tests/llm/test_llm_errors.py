"""The client's error paths against real failures: nothing listening, a
server that hangs, HTTP errors, a wrong model, a refused key, a broken or
oversized reply, a reply without code. Each ends in a precise, classified
error, and nothing hangs."""
import hashlib
import json

from llmtools import free_port, llm_call


def held_at(gate):
    """What the scripted server had sent of each reply it held at `gate`."""
    return [json.loads(x) for x in gate.with_name(gate.name + ".held").read_text().splitlines()]


def test_connect_timeout_is_retried():
    # A listening socket whose accept queue is full: the kernel drops the
    # SYN, so connect() waits, as it does for a host that does not answer.
    import socket
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):  # fill the accept queue (never accepted)
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", port))
            fillers.append(f)
        c = llm_call(f"http://127.0.0.1:{port}/v1", "m", "--llm-connect-timeout-ms", "300",
                     "--llm-retries", "1", timeout=30)
    finally:
        for f in fillers:
            f.close()
        srv.close()
    assert c.r["failure"] == "timeout"
    assert "could not connect to the model server" in c.r["error"]
    assert "within 300 ms" in c.r["error"]
    assert c.r["attempts"] == 2  # each gave up at its own 300 ms deadline


def test_no_server_listening():
    port = free_port()  # bound and released: nothing listens there now
    c = llm_call(f"http://127.0.0.1:{port}/v1", "m", "--llm-retries", "2", timeout=60)
    assert c.rc == 3
    assert c.r["failure"] == "unreachable"
    assert c.r["error"].startswith(f"model server unreachable at http://127.0.0.1:{port}/v1")
    assert c.r["attempts"] == 3


def test_unresolvable_host_is_unreachable():
    c = llm_call("http://no-such-host.invalid/v1", "m", "--llm-retries", "0")
    assert c.r["failure"] == "unreachable" and c.r["attempts"] == 1


def test_server_that_hangs_times_out(fake_llm):
    # The server hangs for 60 s; the call is given 30: a result at all means
    # the client gave up at its own deadline rather than waiting the hang out.
    s = fake_llm("hang", extra=["--hang-seconds", "60"])
    c = llm_call(s.url, "fake", "--llm-timeout-ms", "800", "--llm-retries", "1", timeout=30)
    assert c.rc == 3
    assert c.r["failure"] == "timeout"
    assert "did not finish its reply within 800 ms" in c.r["error"]
    # Not retried: the server took the request and may still be working on it.
    assert c.r["attempts"] == 1
    assert len(s.requests()) == 1


def test_stream_that_stalls_times_out(fake_llm, tmp_path):
    # The reply stops after its opening fence and is held for 60 s (the gate
    # never opens); the call is given 30: the client's deadline ends it, and
    # it reports the progress that had arrived.
    gate = tmp_path / "gate"
    s = fake_llm("ok", extra=["--hold-after", "```python\n", "--gate", str(gate),
                              "--hang-seconds", "60"])
    c = llm_call(s.url, "fake", "--llm-timeout-ms", "2000", "--llm-retries", "0", timeout=30)
    assert c.r["failure"] == "timeout"
    held = held_at(gate)
    # 4-byte pieces: all that came before the hold, and no more.
    assert len(held) == 1 and c.r["pieces"] == len(held[0]["sent"]) // 4 > 0


def test_500_then_success_is_retried(fake_llm):
    s = fake_llm("500,ok")
    c = llm_call(s.url, "fake", "--no-llm-stream")
    assert c.rc == 0, c.stderr
    assert c.r["ok"] and c.r["attempts"] == 2
    assert c.r["extract"]["code"] == "def add(a, b):\n    return a + b\n"
    assert "HTTP 500" in c.stderr and "retrying" in c.stderr


def test_429_and_503_retried_until_the_budget_ends(fake_llm):
    s = fake_llm("429,ok")
    c = llm_call(s.url, "fake")
    assert c.r["ok"] and c.r["attempts"] == 2
    s = fake_llm("503")
    c = llm_call(s.url, "fake", "--llm-retries", "2")
    assert c.rc == 3
    assert c.r["failure"] == "server_error" and c.r["attempts"] == 3
    assert "answered HTTP 503: the server had an error" in c.r["error"]
    assert len(s.requests()) == 3


def test_wrong_model_name(fake_llm):
    s = fake_llm(model="served-model")
    c = llm_call(s.url, "no-such-model", "--llm-retries", "3")
    assert c.rc == 3
    assert c.r["failure"] == "model_not_found"
    assert c.r["error"].startswith("model 'no-such-model' not found at ")
    assert c.r["attempts"] == 1  # not retried: it will not get better
    c = llm_call(s.url, "no-such-model", "--mode", "check")
    assert c.r["failure"] == "model_not_found"
    assert "it serves: served-model" in c.r["error"]
    c = llm_call(s.url, "served-model", "--mode", "check")
    assert c.rc == 0 and c.r["ok"]


def test_wrong_base_url_path(fake_llm):
    s = fake_llm()
    c = llm_call(s.url.replace("/v1", "/api"), "fake")
    assert c.r["failure"] == "http_error"
    assert "no OpenAI-compatible endpoint" in c.r["error"] and "/v1" in c.r["error"]


def test_refused_key_and_the_key_is_never_shown(fake_llm):
    key = "sk-test-3f9a1c0b7d"
    s = fake_llm("401")
    c = llm_call(s.url, "fake", env={"LLMREPL_LLM_API_KEY": key})
    assert c.rc == 3
    assert c.r["failure"] == "refused_key"
    assert "refused the API key (HTTP 401" in c.r["error"]
    req = s.requests()[0]
    assert req["auth"] and req["auth_sha256"] == hashlib.sha256(
        f"Bearer {key}".encode()).hexdigest()
    assert key not in c.stdout and key not in c.stderr
    c = llm_call(s.url, "fake")
    assert "no key is configured" in c.r["error"]
    assert not s.requests()[-1]["auth"]


def test_credentials_in_url_are_redacted():
    port = free_port()
    c = llm_call(f"http://bob:hunter2@127.0.0.1:{port}/v1", "m", "--llm-retries", "0")
    assert "hunter2" not in c.stdout + c.stderr
    assert "http://***@127.0.0.1" in c.r["error"]


def test_reply_over_the_size_cap(fake_llm):
    s = fake_llm("big")  # 2 MiB of content
    for stream in ("--llm-stream", "--no-llm-stream"):
        c = llm_call(s.url, "fake", stream, "--llm-max-reply-kb", "64")
        assert c.rc == 3
        assert c.r["failure"] == "too_big"
        assert "larger than the cap of 65536 bytes" in c.r["error"] or \
            "exceeds the cap of 65536 bytes" in c.r["error"]
        assert c.r["attempts"] == 1


def test_reply_without_code(fake_llm):
    s = fake_llm("nocode")
    c = llm_call(s.url, "fake", "--mode", "generate", "--entry-point", "add")
    assert c.rc == 1
    assert c.r["ok"]
    x = c.r["extract"]
    assert x["how"] == "none" and x["code"] is None
    assert x["error"].startswith("the model's reply contains no code")


def test_malformed_replies(fake_llm):
    s = fake_llm("malformed")
    c = llm_call(s.url, "fake", "--no-llm-stream")
    assert c.r["failure"] == "malformed"
    assert "reply is not JSON" in c.r["error"]
    s = fake_llm("badsse")
    c = llm_call(s.url, "fake", "--llm-stream")
    assert c.r["failure"] == "malformed"
    assert "stream event" in c.r["error"]


def test_stream_without_finish_reason_is_retried_never_an_answer(fake_llm):
    # A stream that ends with a bare [DONE] and no finish reason (a server that
    # dropped the request) is a failed attempt, retried.
    s = fake_llm("cut,ok")
    c = llm_call(s.url, "fake", "--llm-stream")
    assert c.r["ok"] and c.r["attempts"] == 2
    assert c.r["finish_reason"] == "stop" and "def add" in c.r["content"]
    s = fake_llm("cut")
    c = llm_call(s.url, "fake", "--llm-stream", "--llm-retries", "1")
    assert not c.r["ok"] and c.rc == 3
    assert c.r["failure"] == "incomplete" and c.r["attempts"] == 2
    assert c.r["content"] is None
    assert "ended the streamed reply before it was complete" in c.r["error"]
    assert "no finish reason" in c.r["error"]


def test_error_event_mid_stream_is_retried(fake_llm):
    s = fake_llm("errevent,ok")
    c = llm_call(s.url, "fake", "--llm-stream")
    assert c.r["ok"] and c.r["attempts"] == 2
    s = fake_llm("errevent")
    c = llm_call(s.url, "fake", "--llm-stream", "--llm-retries", "0")
    assert c.r["failure"] == "server_error"
    assert "the model crashed" in c.r["error"]


def test_stop_at_code_ends_the_stream_when_the_block_closes(fake_llm, tmp_path):
    # The server holds the reply right after the closing fence until the
    # test opens the gate: a client that returns while it is closed never
    # waited for the prose after the block ("It adds two numbers.").
    gate = tmp_path / "gate"
    s = fake_llm("ok", extra=["--hold-after", "return a + b\n```", "--gate", str(gate)])
    early = llm_call(s.url, "fake", "--llm-stream", "--stop-at-code", timeout=30)
    assert early.r["ok"], early.r
    held = held_at(gate)
    assert len(held) == 1 and "It adds" not in held[0]["sent"]  # the rest was never sent
    gate.touch()
    full = llm_call(s.url, "fake", "--llm-stream")
    assert full.r["ok"] and early.r["ok"]
    assert "It adds" in full.r["content"] and not full.r["early_stop"]
    assert early.r["early_stop"] and early.r["finish_reason"] == "stop"
    assert "It adds" not in early.r["content"]
    assert early.r["content"].rstrip().endswith("```")
    assert early.r["extract"]["code"] == "def add(a, b):\n    return a + b\n"


# The function, a helper after it, then example usage a job with tests drops.
USAGE_REPLY = ("```python\ndef f(x):\n    return helper(x)\n\ndef helper(x):\n    return x + 1\n"
               "\n# Example usage:\nprint(f(1))\nprint(f(2))\nprint(f(3))\nprint(f(4))\n"
               "print(f(5))\n```\nThis prints 2 to 6.")


def test_stop_at_usage_ends_the_stream_where_usage_begins(fake_llm, tmp_path):
    # The server holds the reply once the first `print(` is sent, until the
    # test opens the gate: the usage stop returns while it is closed, the
    # fence stop needs the closing fence, sent only after it opens.
    gate = tmp_path / "gate"
    s = fake_llm("ok", extra=["--reply", USAGE_REPLY, "--hold-after", "print(",
                              "--gate", str(gate)])
    usage = llm_call(s.url, "fake", "--llm-stream", "--stop-at-code", "--stop-at-usage",
                     "--entry-point", "f", timeout=30)
    assert usage.r["ok"], usage.r
    held = held_at(gate)
    assert len(held) == 1 and "print(f(2))" not in held[0]["sent"]
    gate.touch()
    fence = llm_call(s.url, "fake", "--llm-stream", "--stop-at-code", "--entry-point", "f")
    assert fence.r["ok"] and usage.r["ok"]
    assert fence.r["stopped_at"] == "fence" and fence.r["early_stop"]
    assert "print(f(5))" in fence.r["content"]
    assert usage.r["stopped_at"] == "usage" and usage.r["early_stop"]
    assert usage.r["finish_reason"] == "stop"
    # The reply ends before the usage's comment; the helper after the
    # function is kept.
    assert usage.r["content"].endswith("return x + 1\n\n")
    assert "def helper(x)" in usage.r["extract"]["code"]
    assert usage.r["extract"]["code"] == ("def f(x):\n    return helper(x)\n\ndef helper(x):\n"
                                          "    return x + 1\n")


def test_connection_closed_without_reply(fake_llm):
    s = fake_llm("close,ok")
    c = llm_call(s.url, "fake", "--no-llm-stream")
    assert c.r["ok"] and c.r["attempts"] == 2
    s = fake_llm("close")
    c = llm_call(s.url, "fake", "--llm-retries", "0")
    assert c.r["failure"] == "unreachable"
    assert "broke before the reply was complete" in c.r["error"]


def test_streaming_pieces_and_usage(fake_llm):
    s = fake_llm()
    c = llm_call(s.url, "fake", "--llm-stream")
    assert c.r["ok"]
    assert c.r["pieces"] > 10  # 4-byte pieces of the reply
    assert c.r["completion_tokens"] == c.r["pieces"] and not c.r["usage_estimated"]
    assert 0 < c.r["ttft_ms"] <= c.r["latency_ms"]
    assert s.requests()[0]["stream"]
    plain = llm_call(s.url, "fake", "--no-llm-stream")
    assert plain.r["content"] == c.r["content"]
