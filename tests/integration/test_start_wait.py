"""A worker or dispatcher started before Redis waits for it (retrying with
growing pauses, the reason logged at warn) and then works as usual;
--redis-start-wait bounds the wait, after which it exits with status 3; a
SIGTERM during the wait ends it at once, cleanly."""
import re
import signal
import subprocess

from conftest import RedisServer, binary, free_port
from jobsys import System, evaluate, wait_until

WAITING = "is unreachable: Connection refused (the job queue); waiting for it"


def test_started_before_redis_they_wait_then_serve(tmp_path):
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis", port=free_port(), start=False)
    system = System(redis, tmp_path)
    try:
        w = system.worker()
        d = system.dispatcher()
        # Both are up and waiting, and say why, before Redis starts.
        for p in (w, d):
            wait_until(lambda p=p: WAITING in p.log(), what=f"{p.name} waiting")
        redis.start()
        system.r = redis.client()
        jid = system.submit(evaluate("def add(a, b):\n    return a + b\n",
                                     tests=["assert add(1, 2) == 3"]))
        h = system.wait(jid)
        assert h["state"] == "done" and h["passed"] == "1", h
        for p in (w, d):
            assert p.alive(), p.log()
            log = p.log()
            assert f"WARN {p.argv[0].rsplit('/', 1)[1]}" in log, log
            assert "reachable after" in log, log
    finally:
        system.stop_all()
        redis.stop()


def run_until_exit(kind, *args, timeout=60):
    return subprocess.run([binary(f"llmrepl-{kind}"), "--redis-url",
                           f"redis://127.0.0.1:{free_port()}", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_the_wait_has_a_limit_then_status_3():
    for kind in ("worker", "dispatcher"):
        out = run_until_exit(kind, "--redis-start-wait", "1")
        assert out.returncode == 3, (kind, out.stderr)
        assert "waiting for it" in out.stderr, (kind, out.stderr)
        m = re.search(r"\(the job queue; gave up after ([0-9.]+) s\)", out.stderr)
        assert m and float(m.group(1)) >= 1.0, (kind, out.stderr)
        # 0: one try, no wait.
        out = run_until_exit(kind, "--redis-start-wait", "0")
        assert out.returncode == 3, (kind, out.stderr)
        assert "waiting for it" not in out.stderr, (kind, out.stderr)


def test_a_signal_ends_the_wait(tmp_path):
    for kind in ("worker", "dispatcher"):
        log = tmp_path / f"{kind}.log"
        with open(log, "wb") as f:
            p = subprocess.Popen([binary(f"llmrepl-{kind}"), "--redis-url",
                                  f"redis://127.0.0.1:{free_port()}"], stdout=f, stderr=f)
        try:
            wait_until(lambda: "waiting for it" in log.read_text(), what=f"{kind} waiting")
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=30) == 0, log.read_text()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
