"""SIGTERM of an idle worker or dispatcher ends its blocking read at once
(common/redis_stop.c): the process exits cleanly long before its read's
BLOCK time would have run out, and leaves Redis as a clean stop does."""
import signal

from jobsys import evaluate

# A blocking read of 60 s, far longer than the bound the tests wait: only a
# read cut short by the stop lets the process exit within it.
LONG_READ = {"block-ms": 60000, "command-timeout-ms": 600000}


def blocked_in(r, name, command):
    """Whether the connection named `name` is blocked in `command`."""
    return any(c.get("name") == name and c.get("cmd") == command and "b" in c.get("flags", "")
               for c in r.client_list())


def test_sigterm_ends_an_idle_workers_wait_at_once(system):
    w = system.worker(**LONG_READ)
    system.wait_for(lambda: blocked_in(system.r, w.name, "xreadgroup"),
                    what="the worker blocked in its read")
    w.signal(signal.SIGTERM)
    assert w.wait_stopped(timeout=30) == 0, w.log()[-2000:]
    log = w.log()
    assert f"worker {w.name} stopping" in log and "cannot end a blocking read" not in log
    # It left the registry, its record, its wake stream and the consumer group.
    p = system.prefix
    assert system.r.zcard(p + "workers") == 0
    assert not system.r.exists(p + "worker:" + w.name, p + "wake:" + w.name)
    assert system.r.xinfo_consumers(p + "jobs", "workers") == []
    assert not blocked_in(system.r, w.name, "xreadgroup")
    # The work goes on with the next worker.
    system.dispatcher()
    system.worker()
    jid = system.submit(evaluate("assert 1 + 1 == 2\n"))
    assert system.wait(jid)["passed"] == "1"


def test_sigterm_ends_an_idle_dispatchers_wait_at_once(system):
    d = system.dispatcher(**{"tick-ms": 10000, "command-timeout-ms": 600000})
    system.wait_for(lambda: blocked_in(system.r, d.name, "xreadgroup"),
                    what="the dispatcher blocked in its read")
    d.signal(signal.SIGTERM)
    # Its read blocks 10 s (the longest tick): a stop that waited for it
    # would not end within this bound; one that cuts it short takes ms.
    assert d.wait_stopped(timeout=8) == 0, d.log()[-2000:]
    assert "stopping" in d.log() and "cannot end a blocking read" not in d.log()


def test_without_client_unblock_the_read_ends_by_its_block_time(system):
    """A Redis user whose ACL refuses CLIENT UNBLOCK: the stop is still clean,
    the read ending by its own BLOCK time (said once in the log)."""
    system.r.execute_command("ACL", "SETUSER", "w", "on", ">pw", "~*", "&*", "+@all",
                             "-client|unblock")
    url = f"redis://w:pw@127.0.0.1:{system.redis.port}"
    w = system.worker(**{"redis-url": url, "block-ms": 1000})
    system.wait_for(lambda: blocked_in(system.r, w.name, "xreadgroup"),
                    what="the worker blocked in its read")
    w.signal(signal.SIGTERM)
    assert w.wait_stopped(timeout=30) == 0, w.log()[-2000:]
    log = w.log()
    assert log.count("cannot end a blocking read at the stop") == 1, log[-2000:]
    assert "NOPERM" in log and f"worker {w.name} stopping" in log
    assert system.r.zcard(system.prefix + "workers") == 0
