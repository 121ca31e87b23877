"""The pool's zygote (two lanes, as root): the process that forks the
spares. Killed or stopped from outside, the pool forks a fresh one and the
runs go on in the same server; a run's signals (to every pid, kill(-1))
reach neither it nor the spare it forked for the next run."""
import json
import os
import signal
import subprocess

import pytest

from conftest import binary
from sbxkit import flags
from test_sbx_spare import HELD, _children, _status, _until

# Every pid it may signal, then kill(-1): SIGSTOP first, SIGKILL after;
# prints the pids that accepted the signal.
HOSTILE = ("import os, signal\n"
           "me = os.getpid()\n"
           "hit = set()\n"
           "for sig in (signal.SIGSTOP, signal.SIGKILL):\n"
           "    for pid in range(1, 4096):\n"
           "        if pid == me:\n"
           "            continue\n"
           "        try:\n"
           "            os.kill(pid, sig)\n"
           "            hit.add(pid)\n"
           "        except OSError:\n"
           "            pass\n"
           "    try:\n"
           "        os.kill(-1, sig)\n"
           "    except OSError:\n"
           "        pass\n"
           "print(sorted(hit))\n")
PLAIN = "import os\nprint(os.getpid())\n"


def _ids(pid):
    return [int(w) for w in _status(pid).get("Uid", "0 0 0 0").split()]


def _zygote(server):
    """The server's child whose real and effective uids differ (runs and
    spares have one uid for all three)."""
    kids = [k for k in _children(server) if _ids(k)[0] != _ids(k)[1]]
    return kids[0] if len(kids) == 1 else None


def _held(cli_pid, after=None):
    """(server, the held run, the zygote) once a held run (not `after`)
    waits."""
    def look():
        servers = _children(cli_pid)
        if len(servers) != 1:
            return None
        zygote = _zygote(servers[0])
        for k in _children(servers[0]):
            if k not in (zygote, after) and int(_status(k).get("SigCgt", "0"), 16) & (
                    1 << (signal.SIGUSR2 - 1)):
                return (servers[0], k, zygote) if zygote else None
        return None
    return _until("a held run beside the zygote", look)


def _pool(tmp_path, codes):
    files = []
    for i, code in enumerate(codes):
        path = tmp_path / ("run%d.py" % i)
        path.write_text(code)
        files.append(str(path))
    cmd = [binary("llmrepl-sandbox"), "--json", *flags(timeout=120, pool=True), *files]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _end(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _results(proc):
    out, err = proc.communicate(timeout=120)
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()], err


@pytest.mark.skipif(os.geteuid() != 0, reason="two lanes need root")
@pytest.mark.parametrize("sig", [signal.SIGSTOP, signal.SIGKILL])
def test_a_zygote_stopped_or_killed_from_outside_is_replaced_in_the_same_server(tmp_path, sig):
    proc = _pool(tmp_path, [HELD, PLAIN, PLAIN, PLAIN])
    try:
        server, run, zygote = _held(proc.pid)
        os.kill(zygote, sig)
        if sig == signal.SIGSTOP:
            _until("the zygote stopped", lambda: _status(zygote).get("State", "").startswith("T"))
        os.kill(run, signal.SIGUSR1)
        results, err = _results(proc)
    finally:
        _end(proc)
    assert len(results) == 4, err
    assert results[0]["stdout"] == "released\n", results[0]
    for r in results:
        assert r["end"] == "exited" and r["exit_code"] == 0, r
        # The same server throughout: the zygote was replaced, not the pool.
        assert "restarted" not in r["detail"], r
    # Each run a process of its own.
    assert len({r["stdout"] for r in results[1:]}) == 3, results


@pytest.mark.skipif(os.geteuid() != 0, reason="two lanes need root")
def test_a_run_cannot_signal_the_zygote(tmp_path):
    # Runs alternate lanes: the hostile ones run in lane 1, then lane 0.
    proc = _pool(tmp_path, [HELD, HOSTILE, HOSTILE, HELD, PLAIN])
    try:
        server, run, zygote = _held(proc.pid)
        inner = int(_status(zygote)["NSpid"].split()[-1])
        os.kill(run, signal.SIGUSR1)
        server2, run2, zygote2 = _held(proc.pid, after=run)
        # The same zygote, never stopped, after both lanes' sweeps.
        assert (server2, zygote2) == (server, zygote)
        assert not _status(zygote).get("State", "").startswith("T"), _status(zygote)
        os.kill(run2, signal.SIGUSR1)
        results, err = _results(proc)
    finally:
        _end(proc)
    assert len(results) == 5, err
    for r in results:
        assert r["end"] == "exited" and r["exit_code"] == 0, r
        assert "restarted" not in r["detail"], r
    for r in results[1:3]:
        # Only pid 1 (the server, whose signals from inside the kernel
        # drops) accepted any: not the zygote, not the next run's spare.
        hit = json.loads(r["stdout"])
        assert inner not in hit and hit == [1], (inner, hit)
