"""What the bench programs share: a free loopback port, a throwaway
redis-server, and stopping what a program started."""
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_redis(port, timeout=10):
    """Until the server on 127.0.0.1:port answers PING; exits when it does not."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"redis-server on port {port} did not answer within {timeout} s")


def redis_server(port, directory, *settings):
    """redis-server on 127.0.0.1:port without persistence, its files in
    directory (settings: more of its arguments), once it answers."""
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no", "--dir", str(directory),
                          *settings], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_redis(port)
    return p


def stop_all(procs):
    """SIGTERM the processes, the last started first, each waited for (30 s,
    then killed), so workers stop before the Redis they talk to."""
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
