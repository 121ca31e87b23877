"""generate and refactor jobs end to end: redis-cli XADD -> dispatcher ->
worker -> model server -> sandbox -> the job's record, with the real small
model for the happy path and real failures (and the scripted server) for the
error paths. Every failure ends in a precise error in the job hash."""
import json

from llmtools import free_port

ADD_PROMPT = "Write a Python function add(a, b) that returns the sum of a and b."
ADD_TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"


def start(system, url, model, **settings):
    system.dispatcher(**{"max-attempts": 2, "backoff-ms": 100})
    system.worker(**{"llm-url": url, "model": model, **settings})


def generate(prompt=ADD_PROMPT, **fields):
    return {"kind": "generate", "prompt": prompt, "static_checks": False, **fields}


def test_generate_job_with_the_real_model(system, llama_server):
    start(system, llama_server.url, llama_server.model)
    jid = system.submit(generate(tests=ADD_TESTS, entry_point="add"))
    h = system.wait(jid, timeout=300)
    assert h["state"] == "done", h
    assert "def add(" in h["code"]
    assert h["model"] == "smollm2"
    # llama-cpp-python's streams carry no usage: the pieces are counted and
    # the prompt's size is unknown (-1), and the result says so.
    result = json.loads(h["result"])
    assert int(h["completion_tokens"]) > 0
    assert result["model"]["usage_estimated"] and h["prompt_tokens"] == "-1"
    # (greedy output can change with the server's prompt cache: say what came)
    assert result["evaluation"]["tests"], (h["code"], result["evaluation"].get("error"))
    assert result["code"] == h["code"]
    assert h["passed"] == "1", h.get("error")  # greedy SmolLM2 gets add() right
    assert h["tests_passed"] == h["tests_total"] == "2"
    events = system.events(jid)
    progress = [e["msg"] for e in events if e.get("type") == "progress"]
    assert progress and progress[0].startswith("model: ")


def test_generate_job_asking_for_a_model_the_server_lacks(system, llama_server):
    start(system, llama_server.url, llama_server.model)
    jid = system.submit(generate(model={"name": "gpt-17"}))
    h = system.wait(jid, timeout=300)
    assert h["state"] == "done" and h["passed"] == "0"
    assert h["error"].startswith("model 'gpt-17' not found at "), h["error"]
    assert "it serves: smollm2" in h["error"]


def test_model_server_not_listening(system):
    port = free_port()
    start(system, f"http://127.0.0.1:{port}/v1", "m", **{"llm-retries": 1})
    jid = system.submit(generate())
    h = system.wait(jid, timeout=120)
    assert h["state"] == "dead", h
    assert f"model server unreachable at http://127.0.0.1:{port}/v1" in h["error"]


def test_model_server_that_hangs(system, fake_llm):
    s = fake_llm("hang")
    start(system, s.url, "fake", **{"llm-timeout-ms": 1000})
    jid = system.submit(generate())
    h = system.wait(jid, timeout=120)
    assert h["state"] == "dead", h
    assert "did not finish its reply within 1000 ms" in h["error"]
    assert len(s.requests()) == 2  # one call per attempt, max-attempts 2


def test_500_then_success(system, fake_llm):
    s = fake_llm("500,ok")
    start(system, s.url, "fake")
    jid = system.submit(generate(tests=ADD_TESTS))
    h = system.wait(jid, timeout=120)
    assert h["state"] == "done" and h["passed"] == "1", h
    assert h["code"] == "def add(a, b):\n    return a + b\n"
    assert len(s.requests()) == 2


def test_wrong_model_name_for_the_worker(system, fake_llm):
    s = fake_llm(model="served")
    start(system, s.url, "typo-model")
    jid = system.submit(generate())
    h = system.wait(jid, timeout=120)
    # The worker's own model is missing: infrastructure, retried, then dead.
    assert h["state"] == "dead", h
    assert "model 'typo-model' not found" in h["error"] and "it serves: served" in h["error"]


def test_reply_without_code(system, fake_llm):
    s = fake_llm("nocode")
    start(system, s.url, "fake")
    jid = system.submit(generate())
    h = system.wait(jid, timeout=120)
    assert h["state"] == "done" and h["passed"] == "0", h
    assert h["error"].startswith("the model's reply contains no code")
    assert "code" not in h


def test_reply_over_the_size_cap(system, fake_llm):
    s = fake_llm("big")
    start(system, s.url, "fake", **{"llm-max-reply-kb": 64})
    jid = system.submit(generate())
    h = system.wait(jid, timeout=120)
    assert h["state"] == "done" and h["passed"] == "0", h
    assert "cap of 65536 bytes" in h["error"]


# The function, a helper after it, then example usage (streamed slowly).
USAGE_REPLY = ("```python\ndef f(x):\n    return helper(x)\n\ndef helper(x):\n    return x + 1\n"
               "\n# Example usage:\nprint(f(1))\nprint(f(2))\nprint(f(3))\nprint(f(4))\n"
               "print(f(5))\n```\nThis prints 2 to 6.")


def test_generate_stops_reading_where_the_usage_begins(system, fake_llm):
    s = fake_llm("slow", extra=["--reply", USAGE_REPLY])
    start(system, s.url, "fake")
    # With tests the usage would be dropped: the reading stops where it begins,
    # and the helper defined after the function is kept.
    jid = system.submit(generate(prompt="Write f(x) that returns x + 1.",
                                 tests="assert f(1) == 2\nassert helper(2) == 3\n",
                                 entry_point="f"))
    h = system.wait(jid, timeout=120)
    model = json.loads(h["result"])["model"]
    assert h["state"] == "done" and h["passed"] == "1", h
    assert model["stopped_at"] == "usage" and model["early_stop"]
    assert not model["truncated"]
    assert h["code"] == "def f(x):\n    return helper(x)\n\ndef helper(x):\n    return x + 1\n"
    # Without tests the usage is part of the code: read to the closing fence.
    jid = system.submit(generate(prompt="Write f(x) that returns x + 1.", entry_point="f"))
    h2 = system.wait(jid, timeout=120)
    model2 = json.loads(h2["result"])["model"]
    assert model2["stopped_at"] == "fence" and "print(f(5))" in h2["code"]
    assert int(h2["completion_tokens"]) > int(h["completion_tokens"]) + 10


ORIGINAL = "def add(a, b):\n    s = 0\n    s = s + a\n    s = s + b\n    return s\n"


def refactor_to(system, fake_llm, code):
    """A refactor of ORIGINAL that the scripted model answers with `code`."""
    s = fake_llm(extra=["--reply", f"```python\n{code}```"])
    start(system, s.url, "fake")
    jid = system.submit({"kind": "refactor", "code": ORIGINAL, "feedback": "too many steps",
                         "tests": ADD_TESTS, "static_checks": False})
    return system.wait(jid, timeout=120)


def test_refactor_accepted_when_the_tests_still_pass(system, fake_llm):
    h = refactor_to(system, fake_llm, "def add(a, b):\n    return a + b\n")
    assert h["state"] == "done" and h["passed"] == "1", h
    assert h["accepted"] == "1"
    assert h["code"] == h["refactored_code"] == "def add(a, b):\n    return a + b\n"


def test_refactor_refused_when_a_test_fails(system, fake_llm):
    h = refactor_to(system, fake_llm, "def add(a, b):\n    return a - b\n")
    assert h["state"] == "done" and h["passed"] == "0", h
    assert h["accepted"] == "0"
    assert h["code"] == ORIGINAL  # the job answers with the code that works
    assert "return a - b" in h["refactored_code"]
    assert h["error"].startswith("the refactored code was not accepted: ")


def test_refactor_with_the_real_model(system, llama_server):
    start(system, llama_server.url, llama_server.model)
    jid = system.submit({"kind": "refactor", "code": ORIGINAL, "feedback": "too many steps",
                         "tests": ADD_TESTS, "entry_point": "add", "static_checks": False})
    h = system.wait(jid, timeout=300)
    assert h["state"] == "done", h
    assert h["accepted"] in ("0", "1") and "refactored_code" in h
    # Whatever the tiny model wrote, the job's code is one that passes.
    assert h["code"] == (h["refactored_code"] if h["accepted"] == "1" else ORIGINAL)


CONCURRENT = [("add", "returns the sum of a and b", "a, b", "assert add(2, 3) == 5"),
              ("sub", "returns a minus b", "a, b", "assert sub(5, 3) == 2"),
              ("mul", "returns the product of a and b", "a, b", "assert mul(2, 3) == 6"),
              ("neg", "returns -x", "x", "assert neg(2) == -2"),
              ("square", "returns x squared", "x", "assert square(3) == 9"),
              ("is_even", "returns True if n is even, else False", "n", "assert is_even(4)"),
              ("double", "returns twice x", "x", "assert double(4) == 8"),
              ("first", "returns the first item of a list xs", "xs",
               "assert first([7, 8]) == 7")]


def test_concurrent_generate_jobs_on_the_real_model(system, llama_server):
    # Four workers, eight jobs at once against one model server: requests
    # queue at the server, none is cut short, and every reply has code.
    system.dispatcher(**{"max-attempts": 2, "backoff-ms": 100})
    for _ in range(4):
        system.worker(**{"llm-url": llama_server.url, "model": llama_server.model,
                         "llm-max-tokens": 200, "llm-timeout-ms": 300000})
    jids = [system.submit(generate(f"Write a Python function {name}({args}) that {what}.",
                                   tests=test, entry_point=name))
            for name, what, args, test in CONCURRENT]
    hs = [system.wait(jid, timeout=600) for jid in jids]
    for (name, *_), h in zip(CONCURRENT, hs):
        assert h["state"] == "done", h
        result = json.loads(h["result"])
        assert result["model"]["no_code"] is None, (name, result["model"])
        assert f"def {name}(" in h["code"], (name, h["code"])
        assert result["model"]["completion_tokens"] > 0
    # The replies stopped at the end of their code block.
    assert sum(json.loads(h["result"])["model"]["early_stop"] for h in hs) >= 4
