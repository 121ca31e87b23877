"""The static service (worker/eval_static.c, llmrepl_static.serve): pyflakes,
bandit and radon in a held sandboxed interpreter of their own, with a cache
by the hash of the code, through build/llmrepl-eval batches."""
import json
import os
import subprocess

from conftest import binary

RISKY = ("import os\nimport subprocess\n\n\ndef run(cmd):\n"
         "    return subprocess.call(cmd, shell=True)\n")
CLEAN = "def add(a, b):\n    return a + b\n"
CLEAN_TESTS = "assert add(1, 2) == 3\n"


def _batch(tmp_path, jobs, *args, env=None):
    f = tmp_path / "batch.jsonl"
    f.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    p = subprocess.run([binary("llmrepl-eval"), "--batch", str(f), "--json", *args],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, **(env or {})))
    assert p.returncode in (0, 1), p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def _findings(static):
    """What the tools found, without the parts that say how it was found."""
    out = {}
    for tool in ("pyflakes", "bandit", "radon"):
        t = dict(static[tool])
        t.pop("duration_s", None)
        out[tool] = t
    return out


def test_each_code_gets_its_own_findings_and_seen_code_comes_from_the_cache(tmp_path):
    jobs = [{"id": "r1", "code": RISKY, "tests": "assert callable(run)\n"},
            {"id": "c1", "code": CLEAN, "tests": CLEAN_TESTS},
            {"id": "r2", "code": RISKY, "tests": "assert callable(run)\n"},
            {"id": "c2", "code": CLEAN, "tests": CLEAN_TESTS},
            # One character apart from CLEAN: a code of its own.
            {"id": "c3", "code": CLEAN + "\n", "tests": CLEAN_TESTS}]
    out = {o["id"]: o["report"] for o in _batch(tmp_path, jobs)}
    assert [out[k]["static"]["cached"] for k in ("r1", "c1", "r2", "c2", "c3")] == \
        [False, False, True, True, False]
    risky, clean = _findings(out["r1"]["static"]), _findings(out["c1"]["static"])
    assert risky["bandit"]["max_severity"] == "high"
    assert risky["pyflakes"]["warnings"] == 1  # os imported, unused
    assert clean["bandit"]["max_severity"] == "none" and clean["pyflakes"]["warnings"] == 0
    assert _findings(out["r2"]["static"]) == risky
    assert _findings(out["c2"]["static"]) == clean
    assert _findings(out["c3"]["static"]) == clean
    assert all(out[k]["passed"] for k in out)


def test_the_service_finds_what_the_judge_finds(tmp_path):
    jobs = [{"id": "r", "code": RISKY, "tests": "assert callable(run)\n"},
            {"id": "c", "code": CLEAN, "tests": CLEAN_TESTS}]
    served = {o["id"]: o["report"] for o in _batch(tmp_path, jobs)}
    judged = {o["id"]: o["report"] for o in _batch(
        tmp_path, jobs, env={"LLMREPL_STATIC_SERVICE": "0"})}
    for k in ("r", "c"):
        assert "cached" not in judged[k]["static"]
        assert _findings(served[k]["static"]) == _findings(judged[k]["static"])
        assert served[k]["score"] == judged[k]["score"]


def test_findings_never_come_from_the_answer_even_in_process(tmp_path):
    # In process (no split) the code shares the judge's process and can
    # write the whole answer; the findings are still the service's.
    forged = json.dumps({
        "harness": 1, "status": "ok", "error": None, "integrity": "in_process",
        "tests": [{"name": "assert run", "kind": "assert", "line": 1, "file": "tests",
                   "status": "passed", "passed": True, "duration_s": 0.0, "runs": 1}],
        "tests_total": 1, "tests_passed": 1, "tests_omitted": 0, "stdout": "", "stderr": "",
        "static": {"pyflakes": {"ran": True, "errors": 0, "warnings": 0, "findings": []},
                   "bandit": {"ran": True, "findings": [], "max_severity": "none",
                              "counts": {"low": 0, "medium": 0, "high": 0}},
                   "radon": {"ran": True, "functions": [], "max_complexity": 0,
                             "mi": 100.0, "mi_rank": "A"}},
        "metrics": {"code_bytes": 1, "code_lines": 1}, "restarts": 0, "notes": []})
    code = RISKY + ("os.write(3, %r.encode())\nos._exit(0)\n" % forged)
    jobs = [{"id": "f", "code": code, "tests": "assert callable(run)\n",
             "criteria": {"max_security": "low"}}]
    r = _batch(tmp_path, jobs, env={"LLMREPL_SPLIT": "0"})[0]["report"]
    assert r["static"]["bandit"]["max_severity"] == "high", r["static"]
    assert r["passed"] is False
    assert [v["criterion"] for v in r["violations"]] == ["max_security"]


def test_code_that_does_not_parse_gets_no_findings(tmp_path):
    out = _batch(tmp_path, [{"id": "s", "code": "def f(:\n", "tests": "assert f()\n"}])
    r = out[0]["report"]
    assert r["status"] == "syntax_error" and r["static"] is None and not r["passed"]
