"""The pool's next process, forked ahead beside a run (two lanes, as root):
stopped or killed while that run goes on, the run after it still runs, in
the same server. A run can signal it only in the microseconds between its
fork and its setresuid; these tests do it from outside, at a moment they
choose, which nothing inside the sandbox could."""
import os
import signal
import subprocess
import time

import pytest

from conftest import binary
from sbxkit import flags

# The first run blocks until the test lets it go (SIGUSR1, from outside);
# a handler for SIGUSR2 says that SIGUSR1 is blocked by then, so that it
# waits for sigwait (during which the blocked mask shows it unblocked).
HELD = ("import os, signal\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})\n"
        "signal.signal(signal.SIGUSR2, lambda *a: None)\n"
        "signal.sigwait({signal.SIGUSR1})\n"
        "print('released')\n")
NEXT = "import os\nprint(os.getpid())\n"


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(w) for w in f.read().split()]
    except OSError:
        return []


def _status(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def _until(what, cond, limit_s=60):
    """Poll until cond() gives something true (a guard against a hang, not
    a timed assertion: the sandbox gets there on its own)."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.01)
    pytest.fail("never happened: %s" % what)


def _held_run_and_spare(cli_pid):
    """The first run's process (lane 0, the slot's uid), SIGUSR1 blocked,
    and the next run's, waiting in lane 1 (the slot's uid + 2000)."""
    def look():
        servers = _children(cli_pid)
        if len(servers) != 1:
            return None
        # (Not the zygote, which forks them: its real and effective uids
        # differ, see test_sbx_zygote.py.)
        ids = {k: _status(k).get("Uid", "0 0").split() for k in _children(servers[0])}
        kids = [(int(v[0]), k) for k, v in ids.items() if v[0] == v[1]]
        if len(kids) != 2 or kids[0][0] == kids[1][0]:
            return None
        (_, run), (_, spare) = sorted(kids)
        if not int(_status(run).get("SigCgt", "0"), 16) & (1 << (signal.SIGUSR2 - 1)):
            return None
        return run, spare
    return _until("a held run beside a spare in the other lane", look)


@pytest.mark.skipif(os.geteuid() != 0, reason="two lanes need root")
@pytest.mark.parametrize("sig", [signal.SIGSTOP, signal.SIGKILL])
def test_a_spare_stopped_or_killed_beside_a_run_costs_the_next_run_nothing(tmp_path, sig):
    files = []
    for i, code in enumerate((HELD, NEXT)):
        path = tmp_path / ("run%d.py" % i)
        path.write_text(code)
        files.append(str(path))
    cmd = [binary("llmrepl-sandbox"), "--json", *flags(timeout=120, pool=True), *files]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        run, spare = _held_run_and_spare(proc.pid)
        inner = int(_status(spare)["NSpid"].split()[-1])
        os.kill(spare, sig)
        if sig == signal.SIGSTOP:
            _until("the spare stopped", lambda: _status(spare).get("State", "").startswith("T"))
        os.kill(run, signal.SIGUSR1)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    import json
    first, second = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    assert first["end"] == "exited" and first["stdout"] == "released\n", first
    assert second["end"] == "exited", second
    # The same server: neither needed a restart.
    assert not any("restarted" in r["detail"] for r in (first, second)), (first, second)
    if sig == signal.SIGSTOP:
        # Resumed once the run beside it was over, it took the next run.
        assert int(second["stdout"]) == inner, (second, inner)
    else:
        # Its end seen, a fresh one took the next run.
        assert int(second["stdout"]) != inner, (second, inner)
