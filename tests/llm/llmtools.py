"""Helpers for the model suites: a scripted OpenAI-compatible server
(tests/fixtures/fake_llm.py) for deterministic error paths, the real local
model behind llama.cpp's server on a private loopback port, and a runner for
the llm_call driver (the C client as a program). The fixtures `fake_llm`
(a factory of scripted servers) and `llama_server` (the real model, one per
session) are defined here and registered by tests/conftest.py."""
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import socket

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
BUILD = Path(os.environ.get("LLMREPL_BUILD", ROOT / "build"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

FAKE = ROOT / "tests" / "fixtures" / "fake_llm.py"
VENV = Path(os.environ.get("LLMREPL_VENV", ROOT / ".venv"))


class Fake:
    """fake_llm.py on 127.0.0.1:<free port>, stopped at teardown."""

    def __init__(self, tmp, script="ok", model="fake", extra=()):
        self.log = Path(tmp) / f"fake-{time.monotonic_ns()}.log"
        self.model = model
        self.proc = subprocess.Popen(
            [sys.executable, str(FAKE), "--script", script, "--model", model,
             "--log", str(self.log), *extra],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"fake_llm did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def requests(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Call:
    def __init__(self, proc, elapsed):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed
        self.results = [json.loads(line) for line in proc.stdout.splitlines()
                        if line.startswith("{")]

    @property
    def r(self):
        assert self.results, f"no result (rc={self.rc}): {self.stderr}"
        return self.results[-1]


def llm_call(url, model, *args, prompt="Write a Python function add(a, b).", env=None,
             timeout=300):
    """Run the llm_call driver; returns a Call with .r (last JSON result)."""
    driver = BUILD / "tests" / "drivers" / "llm_call"
    if not driver.exists():
        pytest.fail(f"{driver} is not built (run make)")
    e = {k: v for k, v in os.environ.items() if not k.startswith("LLMREPL_")}
    e.update(env or {})
    t0 = time.monotonic()
    proc = subprocess.run([str(driver), "--llm-url", url, "--model", model, *args, prompt],
                          capture_output=True, text=True, timeout=timeout, env=e)
    return Call(proc, time.monotonic() - t0)


class LlamaServer:
    """llama-cpp-python's OpenAI-compatible server with the bundled model."""

    def __init__(self, tmp, name="smollm2"):
        python = VENV / "bin" / "python"
        serve = subprocess.run([str(python), str(ROOT / "deploy" / "model_path.py"),
                                "--server-args", name],
                               capture_output=True, text=True, check=True).stdout.split()
        self.model = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.logf = open(Path(tmp) / "llama-server.log", "w")
        # One thread: the tests check behaviour, not speed, and on a busy
        # machine two ggml threads that spin at barriers run 4x slower than one.
        self.proc = subprocess.Popen(
            [str(python), "-m", "llama_cpp.server", *serve,
             "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "2048",
             "--n_threads", "1", "--verbose", "false"],
            stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama server exited with {self.proc.returncode}; see "
                                   f"{self.logf.name}")
            try:
                with urllib.request.urlopen(self.url + "/models", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("llama server did not come up within 120 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


def have_model():
    return (VENV / ".model-stamp").exists()


@pytest.fixture
def fake_llm(tmp_path):
    """Factory: fake_llm(script="500,ok", model="fake", extra=[...])."""
    servers = []

    def start(script="ok", model="fake", extra=()):
        s = Fake(tmp_path, script, model, extra)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """The real small model on a private loopback port, one per test session.
    Without `make model` the tests that need it are skipped, except in CI
    (CI=true), where a missing model is a failure."""
    if not have_model():
        if os.environ.get("CI"):
            pytest.fail(f"no model in {VENV}: .ci/run must run `make model`")
        pytest.skip(f"no model in {VENV} (run `make model`)")
    server = LlamaServer(tmp_path_factory.mktemp("llama"))
    yield server
    server.stop()
