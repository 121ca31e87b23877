"""`llmrepl log <id>` and `llmrepl export <id> <dir>` on histories the git
store wrote (through the gitstore_cli driver) in a real redis-server."""
import json
import subprocess

from conftest import binary, free_port

JOB = "1700000000123-0"


def driver(server, *args, attempt=1, job=JOB):
    cmd = [binary("tests/drivers/gitstore_cli"), "-p", str(server.port), job, str(attempt),
           *map(str, args)]
    return subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout.decode()


def llmrepl(url, *args, env=None):
    return subprocess.run([binary("llmrepl"), "--redis-url", url, *map(str, args)],
                          capture_output=True, text=True, timeout=60, env=env)


def make_history(server, n=3, job=JOB):
    server.cli("HSET", f"llmrepl:job:{job}", "state", "running", "attempt", "1")
    out = driver(server, "run", 1, n, job=job).splitlines()
    driver(server, "tag", "-", "all tests pass", job=job)
    return [line.split()[2] for line in out if line.startswith("committed")]


def test_log_prints_the_history(redis_server):
    oids = make_history(redis_server)
    out = llmrepl(redis_server.url, "log", JOB)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"{oids[2]} iteration 3 accepted: pass: iteration 3",
        f"{oids[1]} iteration 2: fail: iteration 2",
        f"{oids[0]} iteration 1: fail: iteration 1",
    ]
    out = llmrepl(redis_server.url, "--json", "log", JOB)
    assert out.returncode == 0, out.stderr
    entries = json.loads(out.stdout)
    assert [(e["commit"], e["iteration"], e["attempt"], e["accepted"]) for e in entries] == \
        [(oids[2], 3, 1, True), (oids[1], 2, 1, False), (oids[0], 1, 1, False)]
    assert entries[0]["subject"] == "pass: iteration 3" and entries[0]["time"] > 1.6e9


def test_export_writes_a_repository(redis_server, tmp_path):
    oids = make_history(redis_server, n=4)
    dst = tmp_path / "repo"
    out = llmrepl(redis_server.url, "export", JOB, dst)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(dst)

    def git(*args):
        return subprocess.run(["git", "-C", str(dst), *args], capture_output=True, text=True,
                              check=True).stdout

    git("fsck", "--strict", "--no-dangling")
    assert git("log", "--format=%H", "main").split() == oids[::-1]
    assert git("rev-parse", "accepted^{commit}").strip() == oids[3]
    assert (dst / "solution.py").read_text() == "def f():\n    return 4\n"
    # A second export into the same directory is refused, the first one kept.
    out = llmrepl(redis_server.url, "export", JOB, dst)
    assert out.returncode == 2 and "is not empty" in out.stderr
    git("fsck", "--strict")


def test_missing_jobs_and_bad_input(redis_server, tmp_path):
    out = llmrepl(redis_server.url, "log", "1700000000999-0")
    assert out.returncode == 2 and "no job 1700000000999-0" in out.stderr
    out = llmrepl(redis_server.url, "export", "1700000000999-0", tmp_path / "x")
    assert out.returncode == 2 and "has no git history" in out.stderr
    assert not (tmp_path / "x").exists()
    # A job that exists but has not committed yet: an empty history.
    redis_server.cli("HSET", "llmrepl:job:1700000000998-0", "state", "queued")
    out = llmrepl(redis_server.url, "log", "1700000000998-0")
    assert (out.returncode, out.stdout) == (0, "")
    out = llmrepl(redis_server.url, "--json", "log", "1700000000998-0")
    assert (out.returncode, out.stdout.strip()) == (0, "[]")
    for args in (("log", "../etc"), ("log",), ("export", JOB), ("log", "abc")):
        out = llmrepl(redis_server.url, *args)
        assert out.returncode == 2, args
    # Redis down: infrastructure.
    out = llmrepl(f"redis://127.0.0.1:{free_port()}", "log", JOB)
    assert out.returncode == 3 and "unreachable" in out.stderr


def test_password_and_prefix(redis_server, tmp_path):
    redis_server.cli("HSET", f"acme:job:{JOB}", "state", "running", "attempt", "1")
    subprocess.run([binary("tests/drivers/gitstore_cli"), "-p", str(redis_server.port),
                    "-P", "acme:", JOB, "1", "run", "1", "2"], check=True, capture_output=True)
    redis_server.cli("CONFIG", "SET", "requirepass", "s3cret")
    try:
        url = f"redis://127.0.0.1:{redis_server.port}"
        out = llmrepl(url, "--prefix", "acme:", "log", JOB)
        assert out.returncode == 3 and "NOAUTH" in out.stderr
        out = llmrepl(f"redis://:s3cret@127.0.0.1:{redis_server.port}", "--prefix", "acme:",
                      "log", JOB)
        assert out.returncode == 0, out.stderr
        assert len(out.stdout.splitlines()) == 2
        out = llmrepl(url, "--prefix", "acme:", "--redis-password", "s3cret", "export", JOB,
                      tmp_path / "r")
        assert out.returncode == 0, out.stderr
        out = llmrepl(f"redis://:wrong@127.0.0.1:{redis_server.port}", "log", JOB)
        assert out.returncode == 3 and "AUTH refused" in out.stderr
        assert "wrong" not in out.stderr
    finally:
        redis_server.cli("-a", "s3cret", "--no-auth-warning", "CONFIG", "SET", "requirepass", "")
