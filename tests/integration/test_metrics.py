"""GET /metrics from a dispatcher and a worker (--metrics-listen): the
queue's numbers from Redis, the worker's own histograms and counters, all
accepted by `promtool check metrics`."""
import json
import re
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import free_port, have
from jobsys import evaluate

SYSTEM = {"prefix": "m:"}  # the system fixture's (tests/conftest.py)


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode()


def sample(text, name, **labels):
    """The value of one sample (labels must match exactly), or None."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-z_:]+)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if got == {k: str(v) for k, v in labels.items()}:
            return float(m.group(4))
    return None


def promtool_check(text):
    if not have("promtool"):
        pytest.skip("promtool (Debian prometheus) is not installed")
    out = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0 and not out.stdout.strip() and not out.stderr.strip(), \
        out.stdout + out.stderr


def test_dispatcher_and_worker_metrics(system):
    dport, wport = free_port(), free_port()
    system.dispatcher("--metrics-listen", f"127.0.0.1:{dport}")
    jobs = [system.submit(evaluate("assert 1 + 1 == 2")),
            system.submit(evaluate("assert 1 + 1 == 3")),
            system.submit(evaluate("while True: pass", limits={"timeout_s": 0.5})),
            system.submit("{not json")]
    # A queued job, not yet taken by any worker, ages.
    system.wait(jobs[0], states={"queued"})
    system.wait_for(lambda: (sample(scrape(dport), "llmrepl_queue_oldest_queued_age_seconds")
                             or 0) > 0.2, what="the oldest queued age")
    text = scrape(dport)
    assert sample(text, "llmrepl_queue_jobs", state="queued") == 3
    assert sample(text, "llmrepl_redis_up") == 1
    system.worker("--metrics-listen", f"127.0.0.1:{wport}")
    for jid in jobs:
        system.wait(jid)
    # The worker counts a job just after Redis has it done.
    system.wait_for(lambda: sample(scrape(wport), "llmrepl_worker_jobs_total", kind="evaluate",
                                   outcome="done") == 3, what="the worker's count")
    d = scrape(dport)
    w = scrape(wport)
    promtool_check(d)
    promtool_check(w)
    assert sample(d, "llmrepl_queue_jobs", state="queued") == 0
    assert sample(d, "llmrepl_queue_oldest_queued_age_seconds") == 0
    assert sample(d, "llmrepl_jobs_submitted_total") == 4
    assert sample(d, "llmrepl_jobs_finished_total", kind="evaluate", state="done") == 3
    assert sample(d, "llmrepl_jobs_finished_total", kind="none", state="rejected") == 1
    assert sample(d, "llmrepl_jobs_done_total", result="passed") == 1
    assert sample(d, "llmrepl_jobs_done_total", result="failed") == 2
    assert sample(d, "llmrepl_workers") == 1
    assert sample(d, "llmrepl_dead_letters_total") == 0
    assert sample(w, "llmrepl_worker_jobs_total", kind="evaluate", outcome="done") == 3
    assert sample(w, "llmrepl_job_run_seconds_count", kind="evaluate") == 3
    assert sample(w, "llmrepl_job_queue_wait_seconds_count", kind="evaluate") == 3
    assert sample(w, "llmrepl_job_queue_wait_seconds_bucket", kind="evaluate", le="0.1") < 3
    assert sample(w, "llmrepl_evaluation_seconds_count") == 3
    # The harness stops the busy loop itself: the sandbox run still exits.
    assert sample(w, "llmrepl_sandbox_runs_total", end="exited") == 3
    assert sample(w, "llmrepl_sandbox_pool_restarts_total") == 0
    assert sample(w, "llmrepl_worker_busy") == 0
    assert sample(w, "llmrepl_model_tokens_total", type="prompt") == 0
    # Only /metrics, only GET.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{wport}/other", timeout=10)
    assert e.value.code == 404
    req = urllib.request.Request(f"http://127.0.0.1:{wport}/metrics", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 405


def test_metrics_listen_refuses_a_bad_address(system):
    p = system.worker("--metrics-listen", "nonsense")
    assert p.p.wait(timeout=20) == 2
    assert "is not HOST:PORT" in p.log()


def test_dashboard_and_scrape_config_are_valid(tmp_path):
    """Every panel's query parses (promtool check rules) and names only
    metrics the binaries export (the tables in docs/protocol.md)."""
    import json
    from conftest import ROOT
    if not have("promtool"):
        pytest.skip("promtool (Debian prometheus) is not installed")
    dash = json.loads((ROOT / "deploy/grafana/llmrepl-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 16
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n  - name: dashboard\n    rules:\n" + "".join(
        f"      - record: llmrepl:panel_{i}\n        expr: {json.dumps(e)}\n"
        for i, e in enumerate(exprs)))
    out = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    documented = set(re.findall(r"^\| `(llmrepl_[a-z_]+)`",
                                (ROOT / "docs/protocol.md").read_text(), re.M))
    used = {re.sub(r"_(bucket|sum|count)$", "", n)
            for e in exprs for n in re.findall(r"llmrepl_[a-z_]+", e)}
    assert used <= documented, used - documented
    out = subprocess.run(["promtool", "check", "config", str(ROOT / "deploy/prometheus.yml")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr


def test_http_api_serves_metrics_too(system):
    port = free_port()
    system.dispatcher("--http-listen", f"127.0.0.1:{port}")
    system.worker()
    jid = system.submit(evaluate("x = 1"))
    system.wait(jid)
    text = system.wait_for(lambda: _try_scrape(port), what="the HTTP API")
    promtool_check(text)
    assert sample(text, "llmrepl_jobs_finished_total", kind="evaluate", state="done") == 1


def _try_scrape(port):
    try:
        return scrape(port)
    except OSError:
        return None


def test_model_calls_are_counted(system, fake_llm):
    s = fake_llm("ok")
    wport = free_port()
    system.dispatcher()
    system.worker("--metrics-listen", f"127.0.0.1:{wport}", **{"llm-url": s.url, "model": "fake"})
    jid = system.submit({"kind": "generate", "static_checks": False,
                         "prompt": "Write a Python function add(a, b) returning a + b.",
                         "tests": "assert add(2, 3) == 5"})
    assert system.wait(jid, timeout=120)["state"] == "done"
    system.wait_for(lambda: sample(scrape(wport), "llmrepl_worker_jobs_total", kind="generate",
                                   outcome="done") == 1, what="the worker's count")
    w = scrape(wport)
    promtool_check(w)
    calls = len([r for r in s.requests() if "messages" in json.dumps(r)])
    assert calls >= 1
    assert 1 <= sample(w, "llmrepl_model_request_seconds_count") <= calls
    # A streamed reply without usage counts its pieces as completion tokens;
    # prompt tokens are counted only when the server reports them.
    assert sample(w, "llmrepl_model_tokens_total", type="prompt") >= 0
    assert sample(w, "llmrepl_model_tokens_total", type="completion") > 0
    assert sample(w, "llmrepl_worker_jobs_total", kind="generate", outcome="done") == 1
    assert sample(w, "llmrepl_evaluation_seconds_count") >= 1
