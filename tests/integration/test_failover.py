"""Redis fails over under load: a master, two replicas and three Sentinels on
loopback; dispatchers and workers reach them through a redis+sentinel:// URL.
The master is killed while 200 jobs run (and, apart, demoted by a
switchover while 100 run); every job still ends `done`, once."""
import subprocess
import time
from pathlib import Path

import pytest

from conftest import free_port, have
from jobsys import System, evaluate

N = 200
MASTER = "llmrepl-test"

pytestmark = pytest.mark.skipif(not (have("redis-server") and have("redis-sentinel")),
                                reason="needs redis-server and redis-sentinel")


def cli(port, *args, check=True):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True,
                          text=True, check=check, timeout=30).stdout.strip()


def wait_until(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if cond():
                return
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Replicated:
    """redis-server master + replicas and redis-sentinel processes."""

    def __init__(self, tmp, replicas=2, sentinels=3):
        self.dir = Path(tmp)
        self.procs = {}
        self.master_port = free_port()
        self.data_ports = [self.master_port] + [free_port() for _ in range(replicas)]
        for i, port in enumerate(self.data_ports):
            d = self.dir / f"redis{port}"
            d.mkdir()
            args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
                    "--save", "", "--appendonly", "no", "--loglevel", "warning",
                    "--maxmemory-policy", "noeviction"]
            if i > 0:
                args += ["--replicaof", "127.0.0.1", str(self.master_port)]
            self._spawn(port, args)
        for port in self.data_ports:
            wait_until(lambda p=port: cli(p, "PING") == "PONG", 10, f"redis {port}")
        wait_until(lambda: f"connected_slaves:{replicas}" in cli(self.master_port, "INFO",
                                                                   "replication"),
                   20, "replicas in sync")
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        for port in self.sentinel_ports:
            conf = self.dir / f"sentinel{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.dir}\nloglevel warning\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\n"
                f"sentinel failover-timeout {MASTER} 10000\n"
                f"sentinel parallel-syncs {MASTER} 1\n")
            self._spawn(port, ["redis-sentinel", str(conf)])
        for port in self.sentinel_ports:
            wait_until(lambda p=port: cli(p, "SENTINEL", "ckquorum", MASTER).startswith("OK")
                       and f"num-other-sentinels\n{sentinels - 1}"
                       in cli(p, "SENTINEL", "master", MASTER)
                       and f"num-slaves\n{replicas}" in cli(p, "SENTINEL", "master", MASTER),
                       30, f"sentinel {port} to see everyone")

    def _spawn(self, port, args):
        self.procs[port] = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)

    @property
    def url(self):
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{MASTER}"

    def master(self):
        for port in self.sentinel_ports:
            try:
                host, port_s = cli(port, "SENTINEL", "get-master-addr-by-name",
                                   MASTER).split("\n")
                return int(port_s)
            except (subprocess.CalledProcessError, ValueError):
                continue
        raise AssertionError("no sentinel answers")

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.master(), decode_responses=True)

    def kill(self, port):
        p = self.procs[port]
        p.kill()
        p.wait(timeout=10)

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def replicated(tmp_path):
    (tmp_path / "ha").mkdir()
    r = Replicated(tmp_path / "ha")
    yield r
    r.stop()


def test_master_killed_midway_every_job_done_exactly_once(replicated, tmp_path):
    system = System(replicated, tmp_path, prefix="ha:",
                    **{"lease-ms": 3000, "backoff-ms": 200, "max-attempts": 5,
                       "command-timeout-ms": 2000, "connect-timeout-ms": 500})
    try:
        system.dispatcher("--redis-wait-replicas", "1")
        system.dispatcher("--redis-wait-replicas", "1")
        for _ in range(2):
            system.worker()
        r = system.r
        pipe = r.pipeline(transaction=False)
        for i in range(N):
            pipe.xadd("ha:requests", {"spec": (
                f'{{"kind":"evaluate","code":"import time\\ntime.sleep(0.03)\\nv = {i}\\n'
                f'assert v == {i}","static_checks":false}}')})
        ids = pipe.execute()
        # A client that must not lose its submission waits for a replica.
        assert r.wait(2, 5000) == 2
        old = replicated.master_port

        def finished():
            p = r.pipeline(transaction=False)
            for jid in ids:
                p.hget(f"ha:job:{jid}", "state")
            return sum(1 for s in p.execute() if s == "done")

        wait_until(lambda: finished() >= N // 3, 120, "a third of the jobs")
        replicated.kill(old)
        killed_at = time.time()
        wait_until(lambda: replicated.master() != old, 60, "the Sentinels' failover")
        failover_s = time.time() - killed_at
        r = replicated.client()

        def states():
            p = r.pipeline(transaction=False)
            for jid in ids:
                p.hget(f"ha:job:{jid}", "state")
            return p.execute()

        deadline = time.time() + 240
        while time.time() < deadline:
            try:
                st = states()
            except Exception:  # the new master settling
                time.sleep(0.2)
                continue
            if all(s == "done" for s in st):
                break
            time.sleep(0.3)
        st = states()
        missing = [(jid, s) for jid, s in zip(ids, st) if s != "done"]
        assert not missing, f"{len(missing)} not done, e.g. {missing[:5]}"
        # Exactly once: one `done` event and one recorded result per job.
        p = r.pipeline(transaction=False)
        for jid in ids:
            p.xrange(f"ha:job:{jid}:events")
            p.hmget(f"ha:job:{jid}", "passed", "final_attempt", "attempt")
        res = p.execute()
        for jid, ev, h in zip(ids, res[0::2], res[1::2]):
            types = [f["type"] for _, f in ev]
            assert types.count("done") == 1, (jid, types)
            assert h[0] == "1" and h[1] == h[2], (jid, h)
        # Everyone followed the failover.
        for proc in system.procs:
            assert "reconnected to redis at 127.0.0.1:" in proc.log(), proc.log()[-2000:]
        print(f"failover took {failover_s:.1f}s")
    finally:
        system.stop_all()


def test_switchover_demotes_the_master_under_the_clients(replicated, tmp_path):
    """SENTINEL FAILOVER: the old master becomes a replica while the binaries
    are still connected to it; their writes meet READONLY, they find the new
    master, and every job still ends done once."""
    n = 100
    system = System(replicated, tmp_path, prefix="sw:",
                    **{"lease-ms": 3000, "backoff-ms": 200, "max-attempts": 5,
                       "command-timeout-ms": 2000, "connect-timeout-ms": 500})
    try:
        system.dispatcher("--redis-wait-replicas", "1")
        for _ in range(2):
            system.worker()
        r = system.r
        pipe = r.pipeline(transaction=False)
        for i in range(n):
            pipe.xadd("sw:requests", {"spec": (
                f'{{"kind":"evaluate","code":"import time\\ntime.sleep(0.03)\\nv = {i}",'
                f'"static_checks":false}}')})
        ids = pipe.execute()
        assert r.wait(2, 5000) == 2
        old = replicated.master_port

        def done_count(client):
            p = client.pipeline(transaction=False)
            for jid in ids:
                p.hget(f"sw:job:{jid}", "state")
            return sum(1 for s in p.execute() if s == "done")

        wait_until(lambda: done_count(r) >= n // 3, 120, "a third of the jobs")
        before = {proc.name: len(proc.log()) for proc in system.procs}
        cli(replicated.sentinel_ports[0], "SENTINEL", "FAILOVER", MASTER)
        wait_until(lambda: replicated.master() != old, 60, "the switchover")
        wait_until(lambda: "role:slave" in cli(old, "INFO", "replication"), 60,
                   "the old master to be a replica")
        r = replicated.client()
        wait_until(lambda: done_count(r) == n, 240, "every job done")
        p = r.pipeline(transaction=False)
        for jid in ids:
            p.xrange(f"sw:job:{jid}:events")
        for jid, ev in zip(ids, p.execute()):
            assert [f["type"] for _, f in ev].count("done") == 1, jid
        # Every binary met the demoted node (a READONLY reply, or its connection
        # closed by the Sentinels' reconfiguration) and reconnected, after the
        # switchover was asked for. Read until each says so: the jobs can all
        # be done before an idle process's next command meets the demotion.

        def since(proc):
            return proc.log()[before[proc.name]:]

        def waiting():
            return [proc for proc in system.procs
                    if "reconnected to redis at 127.0.0.1:" not in since(proc)]

        try:
            wait_until(lambda: not waiting(), 60, "every binary to reconnect")
        except AssertionError:
            raise AssertionError({proc.name: since(proc)[-2000:] for proc in waiting()})
        logs = "".join(since(proc) for proc in system.procs)
        assert "READONLY" in logs or "is not a master" in logs or "reconnected" in logs
    finally:
        system.stop_all()


def test_sentinel_urls_and_readonly_replies(replicated):
    """A redis+sentinel:// URL reaches the master; a write to a replica is a
    lost connection (READONLY: it did not run), not a command error; an
    unknown master name is said so."""
    from conftest import binary

    def probe(url, *args):
        return subprocess.run([binary("tests/drivers/redis_probe"), url, "-", *args],
                              capture_output=True, text=True, timeout=30)

    out = probe(replicated.url, "cmd", "SET", "via-sentinel", "yes")
    assert out.returncode == 0, out.stderr
    assert cli(replicated.master_port, "GET", "via-sentinel") == "yes"
    replica = replicated.data_ports[1]
    out = probe(f"redis://127.0.0.1:{replica}", "cmd", "SET", "k", "v")
    assert out.returncode == 1
    assert f"redis at 127.0.0.1:{replica}: READONLY" in out.stderr, out.stderr
    bad = replicated.url.replace(MASTER, "no-such-master")
    out = probe(bad, "ping")
    assert out.returncode == 1
    assert "no Sentinel named the master 'no-such-master'" in out.stderr, out.stderr
