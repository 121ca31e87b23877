"""common/redis against a real redis-server: passwords, databases, scripts
after a script-cache flush, bounded replies, blocking reads kept under the
socket timeout, and reconnecting after a restart."""
import re
import signal
import subprocess
import threading
import time

from conftest import binary


def probe(url, *args, password="-", timeout=30):
    return subprocess.run([binary("tests/drivers/redis_probe"), url, password, *args],
                          capture_output=True, text=True, timeout=timeout)


def test_ping_and_commands(redis_server):
    out = probe(redis_server.url, "ping")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "PONG"
    out = probe(redis_server.url, "cmd", "SET", "k", "va lue")
    assert out.returncode == 0
    assert redis_server.cli("GET", "k").strip() == "va lue"
    out = probe(redis_server.url, "cmd", "HSET", "k", "f", "v")
    assert out.returncode == 1
    assert "redis: WRONGTYPE" in out.stderr


def test_password_from_url_or_setting_and_database(redis_server):
    redis_server.cli("CONFIG", "SET", "requirepass", "s@cr t")
    try:
        url = redis_server.url
        out = probe(url, "ping")
        assert out.returncode == 1
        assert "NOAUTH" in out.stderr or "AUTH" in out.stderr
        enc = url.replace("redis://", "redis://:s%40cr%20t@") + "/5"
        out = probe(enc, "cmd", "SET", "where", "db5")
        assert out.returncode == 0, out.stderr
        out = probe(url + "/5", "cmd", "GET", "where", password="s@cr t")
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "db5"
        out = probe(url, "ping", password="wrong")
        assert out.returncode == 1
        assert "AUTH refused" in out.stderr
    finally:
        subprocess.run(["redis-cli", "-p", str(redis_server.port), "-a", "s@cr t",
                        "--no-auth-warning", "CONFIG", "SET", "requirepass", ""], check=True,
                       capture_output=True)


def test_script_reloads_after_flush(redis_server):
    out = probe(redis_server.url, "script")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["x", "probe", "x", "probe"]


def test_reply_cap_refuses_and_recovers(redis_server):
    redis_server.cli("SET", "big", "x" * 100000)
    out = probe(redis_server.url, "cap", "1000000", "big")
    assert out.returncode == 0 and "100000 bytes" in out.stdout
    out = probe(redis_server.url, "cap", "50000", "big")
    assert out.returncode == 3, out.stderr
    assert "over 50000 bytes; refused" in out.stderr
    assert "refused, then PONG" in out.stdout


def test_blocking_read_is_clamped_below_socket_timeout(redis_server):
    out = probe(redis_server.url, "block", "60000")
    assert out.returncode == 0, out.stderr
    # Redis's own block ended the read (nil, the connection still up), not
    # the 1 s command timeout: the 60 s asked for was cut to what fits in it.
    assert out.stdout.startswith("nil after")
    block = int(re.search(r"blocked (\d+) ms", out.stdout).group(1))
    assert 0 < block < 1000, out.stdout


def test_a_stop_ends_a_blocking_read_and_the_connection_goes_on(redis_server):
    """lr_redis_stop_on: SIGTERM's pipe turning readable ends an XREAD BLOCK 0
    (it would wait forever) through CLIENT UNBLOCK from a second connection;
    the reply is read, the connection still answers, later blocks are 1 ms."""
    proc = subprocess.Popen([binary("tests/drivers/redis_probe"), redis_server.url, "-",
                             "stopped"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline() == "blocking\n"
    r = redis_server.client()
    deadline = time.time() + 30
    while not any(c.get("name") == "redis-probe" and c.get("cmd") == "xread"
                  and "b" in c.get("flags", "") for c in r.client_list()):
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            raise AssertionError("the probe never blocked: " + proc.communicate()[1])
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, err
    assert out.splitlines() == ["nil, stopping 1", "PONG", "then block 1 ms", "nil"]


def test_reconnects_after_restart(redis_server):
    proc = subprocess.Popen([binary("tests/drivers/redis_probe"), redis_server.url, "-",
                             "survive", "4"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.7)
    redis_server.stop()
    time.sleep(0.7)
    redis_server.start()
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert out.split() == ["up", "down", "up"]
