"""Shared fixtures for the process-level suites.

LLMREPL_BUILD names the build directory under test (build/, build-asan/,
build-ubsan/); `make test` sets it. Every server a test needs is started here
on a private loopback port in a temporary directory, and stopped afterwards.
"""
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("LLMREPL_BUILD", ROOT / "build"))
# ../shared/datasets beside the checkout (or beside the directory of worktrees).
DATASETS = Path(os.environ.get("LLMREPL_DATASETS") or next(
    (p for p in (ROOT.parent / "shared" / "datasets", ROOT.parent.parent / "shared" / "datasets")
     if p.is_dir()), ROOT.parent / "shared" / "datasets"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary(name):
    path = BUILD / name
    if not path.exists():
        pytest.fail(f"{path} is not built (run make)")
    return str(path)


@pytest.fixture(scope="session")
def build_dir():
    return BUILD


class RedisServer:
    """A throwaway redis-server on 127.0.0.1:<port> with its data in `dir`."""

    def __init__(self, tmpdir, appendonly=True, port=None, start=True):
        self.dir = Path(tmpdir)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.proc = None
        if start:
            self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def start(self):
        args = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.dir), "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "always", "--maxmemory-policy", "noeviction",
            "--protected-mode", "yes", "--loglevel", "warning",
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if self.cli("PING").strip() == "PONG":
                    return
            except subprocess.CalledProcessError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self, sig=None):
        if self.proc and self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def cli(self, *args, check=True):
        out = subprocess.run(["redis-cli", "-p", str(self.port), *args],
                             capture_output=True, text=True, check=check, timeout=30)
        return out.stdout

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)


@pytest.fixture
def redis_server(tmp_path):
    (tmp_path / "redis").mkdir(exist_ok=True)
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def humaneval():
    """The 164 HumanEval problems, read in place from shared/datasets."""
    import gzip
    import json
    path = DATASETS / "HumanEval.jsonl.gz"
    if not path.exists():
        pytest.fail(f"{path} not found (set LLMREPL_DATASETS)")
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def have(cmd):
    return shutil.which(cmd) is not None


# The model suites' fixtures (fake_llm, llama_server) live in tests/llm/llmtools.py,
# the job system's helpers (System, evaluate, ...) in tests/integration/jobsys.py.
import sys  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent / "llm"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "integration"))
from llmtools import fake_llm, llama_server  # noqa: E402,F401


@pytest.fixture
def system(request, redis_server, tmp_path):
    """Dispatchers and workers on the private Redis, all stopped after the
    test. A suite sets SYSTEM = {"prefix": ..., <setting>: ...} for its own."""
    from jobsys import System
    s = System(redis_server, tmp_path, **getattr(request.module, "SYSTEM", {}))
    yield s
    s.stop_all()
