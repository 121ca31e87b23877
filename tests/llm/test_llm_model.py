"""The client against the real small model (SmolLM2-135M-Instruct) behind
llama.cpp's OpenAI-compatible server on a private loopback port."""
from llmtools import llm_call

TASK = 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n'


def test_completion_with_usage(llama_server):
    c = llm_call(llama_server.url, llama_server.model, "--no-llm-stream",
                 "--llm-max-tokens", "48", prompt="Say hello in one short sentence.")
    assert c.rc in (0, 1), c.stderr  # 1: the reply has no code, as asked
    r = c.r
    assert r["ok"] and r["failure"] == "ok" and r["attempts"] == 1
    assert r["content"].strip()
    assert r["model"] == "smollm2"
    assert r["finish_reason"] in ("stop", "length")
    assert r["prompt_tokens"] > 5 and 0 < r["completion_tokens"] <= 48
    assert not r["usage_estimated"]
    assert r["latency_ms"] > 0 and 0 <= r["overhead_ms"] < r["latency_ms"]


def test_max_tokens_is_honoured(llama_server):
    c = llm_call(llama_server.url, llama_server.model, "--no-llm-stream",
                 "--llm-max-tokens", "4", prompt="Count from one to one hundred.")
    assert c.r["completion_tokens"] == 4 and c.r["finish_reason"] == "length"


def test_streaming_matches_the_plain_reply(llama_server):
    args = ("--mode", "generate", "--entry-point", "add", "--llm-max-tokens", "48",
            "--llm-temperature", "0")
    streamed = llm_call(llama_server.url, llama_server.model, "--llm-stream", *args,
                        prompt=TASK)
    plain = llm_call(llama_server.url, llama_server.model, "--no-llm-stream", *args,
                     prompt=TASK)
    s, p = streamed.r, plain.r
    assert s["ok"] and p["ok"]
    assert s["pieces"] > 3  # progress: one callback per streamed token
    assert s["completion_tokens"] == s["pieces"]
    assert 0 < s["ttft_ms"] < s["latency_ms"]
    assert s["content"] == p["content"]  # greedy: same text either way
    # This prompt is easy enough for the 135M model to answer with code.
    assert s["extract"]["how"] == "fenced" and s["extract"]["defines_entry"]
    assert "def add(" in s["extract"]["program"]


def test_model_check_against_the_real_server(llama_server):
    # llama-cpp-python answers any model name with its default model, so the
    # check against GET /models is what turns a typo into "model not found".
    ok = llm_call(llama_server.url, llama_server.model, "--mode", "check")
    assert ok.rc == 0 and ok.r["ok"]
    bad = llm_call(llama_server.url, "smollm3", "--mode", "check")
    assert bad.rc == 3 and bad.r["failure"] == "model_not_found"
    assert "it serves: smollm2" in bad.r["error"]


def test_timeout_against_the_real_server(llama_server):
    c = llm_call(llama_server.url, llama_server.model, "--no-llm-stream",
                 "--llm-max-tokens", "400", "--llm-timeout-ms", "150", "--llm-retries", "0",
                 prompt="Write a long story about a dragon.", timeout=120)
    # A timeout, not a complete story: the client gave up at its 150 ms deadline.
    assert c.r["failure"] == "timeout" and c.r["attempts"] == 1
