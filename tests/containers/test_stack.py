"""The compose stack for real: `make containers`, then docker-compose.yml under
podman-compose with three workers, driven from the host with redis-cli on the
published port. Runs where LLMREPL_TEST_CONTAINERS=1 (`make test-containers`,
.ci/run) and podman can run containers as root; images stay cached between
runs, so only the first builds them (minutes)."""
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import ROOT, free_port

pytestmark = pytest.mark.skipif(
    os.environ.get("LLMREPL_TEST_CONTAINERS") != "1" or os.geteuid() != 0
    or shutil.which("apt-get") is None,
    reason="container tests: LLMREPL_TEST_CONTAINERS=1 as root on a Debian host "
           "(make test-containers)")

PREFIX = "llmrepl:"
FINAL = {"done", "cancelled", "rejected", "dead"}


def sh(*cmd, env=None, timeout=1800, check=True):
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {p.returncode}\n{p.stdout[-3000:]}\n"
                             f"{p.stderr[-3000:]}")
    return p


class Stack:
    def __init__(self):
        self.project = "llmrepl-t" + uuid.uuid4().hex[:8]
        self.redis_port = free_port()
        self.env = dict(os.environ, LLMREPL_REDIS_PORT=str(self.redis_port),
                        LLMREPL_HTTP_PORT=str(free_port()), LLMREPL_LEASE_MS="3000",
                        LLMREPL_WORKERS="3")

    def compose(self, *args, timeout=1800, check=True):
        return sh("podman-compose", "-p", self.project, *args, env=self.env, timeout=timeout,
                  check=check)

    def cli(self, *args):
        return sh("redis-cli", "-p", str(self.redis_port), *args).stdout

    def submit(self, spec):
        return self.cli("XADD", PREFIX + "requests", "*", "spec", json.dumps(spec)).strip()

    def job(self, jid):
        out = self.cli("--no-raw", "HGETALL", PREFIX + "job:" + jid)
        vals = [json.loads(line.split(") ", 1)[1]) if ") " in line else None
                for line in out.splitlines()]
        return dict(zip(vals[0::2], vals[1::2]))

    def wait(self, jid, states=FINAL, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            h = self.job(jid)
            if h.get("state") in states:
                return h
            time.sleep(0.2)
        raise AssertionError(f"job {jid} not in {states} after {timeout}s: {self.job(jid)}")

    def down(self, check=True):
        """podman-compose down -v, and the network podman-compose 1.0 leaves."""
        return sh("bash", "deploy/containers.sh", "down", self.project, env=self.env,
                  timeout=300, check=check)

    def containers(self, service=None):
        label = "io.podman.compose.project=" + self.project
        out = sh("podman", "ps", "-a", "--filter", "label=" + label, "--format",
                 "{{.Names}}").stdout.split()
        return [n for n in out if service is None or f"_{service}_" in n]

    def leftovers(self):
        label = "label=io.podman.compose.project=" + self.project
        return {
            "containers": sh("podman", "ps", "-aq", "--filter", label).stdout.split(),
            "networks": sh("podman", "network", "ls", "-q", "--filter", label).stdout.split(),
            "volumes": [v for v in sh("podman", "volume", "ls", "--format",
                                      "{{.Name}}").stdout.split() if self.project in v],
        }


@pytest.fixture(scope="module")
def stack():
    out = sh("make", "containers").stdout
    assert "containers: ready" in out, out
    s = Stack()
    try:
        s.compose("up", "-d", "--build", "--scale", "worker=3")
        deadline = time.time() + 120
        while time.time() < deadline:
            p = sh("redis-cli", "-p", str(s.redis_port), "PING", check=False)
            if p.stdout.strip() == "PONG":
                break
            time.sleep(0.5)
        assert len(s.containers("worker")) == 3, s.containers()
        yield s
    finally:
        s.down(check=False)


def evaluate(code, **kw):
    return {"kind": "evaluate", "code": code, "static_checks": False, **kw}


SBX_ISO_CGROUP = 1 << 10  # sandbox/sbx.h


def sandboxed(h):
    """The job's report and its run; the run had its cgroups."""
    r = json.loads(h["result"])
    run = r["run"]
    assert run["isolation"] & SBX_ISO_CGROUP, run
    return r, run


def test_jobs_end_done_with_cgroup_isolation(stack):
    jids = [stack.submit(evaluate("import time\ntime.sleep(0.5)\nprint(%d * 7)\n" % i))
            for i in range(6)]
    for i, jid in enumerate(jids):
        h = stack.wait(jid)
        assert h["state"] == "done", h
        r, _ = sandboxed(h)
        assert r["stdout"] == "%d\n" % (i * 7), r
    workers = {stack.job(j)["worker"] for j in jids}
    assert len(workers) >= 2, workers


def test_fork_bomb_contained(stack):
    code = ("import os\nwhile True:\n    try:\n        os.fork()\n"
            "    except OSError:\n        pass\n")
    h = stack.wait(stack.submit(evaluate(code, limits={"timeout_s": 3})))
    assert h["state"] == "done", h
    r, run = sandboxed(h)
    assert r["status"] in ("timeout", "load_timeout") and not r["passed"], r
    # The stack still answers.
    h = stack.wait(stack.submit(evaluate("print('after')\n")))
    assert json.loads(h["result"])["stdout"] == "after\n"


def test_memory_bomb_contained(stack):
    code = "x = []\nwhile True:\n    x.append(bytearray(16 << 20))\n"
    h = stack.wait(stack.submit(evaluate(code, limits={"timeout_s": 10, "memory_mb": 64})))
    assert h["state"] == "done", h
    r, run = sandboxed(h)
    assert not r["passed"], r
    assert r["status"] == "memory" or "MemoryError" in (r["error"] or ""), r
    assert run["peak_kb"] < 100 * 1024, run


def test_worker_container_killed_mid_job(stack):
    jid = stack.submit(evaluate("import time\ntime.sleep(4)\nprint('finished')\n"))
    h = stack.wait(jid, states={"running"})
    first = h["worker"]
    victim = None
    for name in stack.containers("worker"):
        host = sh("podman", "inspect", "-f", "{{.Config.Hostname}}", name).stdout.strip()
        if first.startswith("worker-%s-" % host):
            victim = name
    assert victim, (first, stack.containers("worker"))
    sh("podman", "kill", "-s", "KILL", victim)
    h = stack.wait(jid, timeout=120)
    # Finished by another worker (or the killed container, restarted by its
    # restart policy: a new process), in a second attempt after the lease.
    assert h["state"] == "done" and h["attempt"] == "2", h
    assert "finished" in json.loads(h["result"])["stdout"]


def test_loop_job_on_the_bundled_model(stack):
    """A loop job through the stack: the workers ask the `model` service
    (SmolLM2 on llama.cpp's server) for code and judge it in the sandbox."""
    jid = stack.submit({
        "kind": "loop", "max_iterations": 3, "entry_point": "is_even",
        "prompt": "Write a Python function is_even(n) that returns True if n is even, "
                  "else False.",
        "tests": ["assert is_even(2)", "assert not is_even(3)", "assert is_even(0)"]})
    h = stack.wait(jid, timeout=900)
    assert h["state"] == "done", h
    it = stack.job(jid + ":it:0")
    assert int(it["tokens_prompt"]) > 0 and float(it["t_model_ms"]) > 0, it
    assert h["stop_reason"] in ("passed", "max_iterations", "stuck_same_code",
                                "stuck_same_failure", "no_code"), h


def test_down_leaves_nothing(stack):
    """Last (pytest runs in file order): bring the stack down here."""
    stack.down()
    assert stack.leftovers() == {"containers": [], "networks": [], "volumes": []}


def test_sandbox_suites_pass_in_a_worker_container():
    """The basic, hostile and limit suites, in a container of the worker image with
    exactly the worker's rights (docker-compose.yml) under its entrypoint:
    every protection, cgroups included, as on the host."""
    sh("make", "containers")
    image = "localhost/llmrepl-worker"
    sh("podman", "build", "-q", "-t", image, "-f", "deploy/Dockerfile.worker", ".")
    root = str(ROOT)
    p = sh("podman", "run", "--rm", "--cap-add", "SYS_ADMIN", "--cap-add", "MKNOD",
           "--security-opt", "apparmor=unconfined",
           "-v", f"{root}:{root}:ro", "-w", root, "-e", "PYTHONDONTWRITEBYTECODE=1",
           "-e", f"LLMREPL_BUILD={os.environ.get('LLMREPL_BUILD', root + '/build')}",
           image, "python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "tests/sandbox/test_sbx_basics.py", "tests/sandbox/test_sbx_hostile.py",
           "tests/sandbox/test_sbx_limits.py",
           "tests/sandbox/test_sbx_slots.py", check=False, timeout=1200)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
