"""uid slots locked in a shared directory (LLMREPL_SANDBOX_SLOT_DIR): what
lets sandboxes in separate network namespaces (worker containers on one host),
where the abstract-socket locks do not meet, still take a uid each."""
import fcntl
import os
import shutil
import subprocess
import time

import pytest

from conftest import binary

SLEEP = "import time\ntime.sleep(%s)\n"


def held(slot_dir):
    """The slot files someone holds now (flock fails)."""
    out = []
    for name in sorted(os.listdir(slot_dir)):
        with open(os.path.join(slot_dir, name)) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                out.append(name)
    return out


def start(slot_dir, seconds, netns=False):
    env = dict(os.environ, LLMREPL_SANDBOX_SLOT_DIR=str(slot_dir))
    cmd = [binary("llmrepl-sandbox"), "--json", "--timeout", "30", "-c", SLEEP % seconds]
    if netns:
        cmd = ["unshare", "--net"] + cmd
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_held(slot_dir, n, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        h = held(slot_dir)
        if len(h) >= n:
            return h
        time.sleep(0.05)
    return held(slot_dir)


def test_slot_is_a_locked_file_released_at_exit(tmp_path):
    proc = start(tmp_path, 3)
    h = wait_held(tmp_path, 1)
    out, err = proc.communicate(timeout=30)
    assert len(h) == 1 and h[0].startswith("uid-"), (h, out, err)
    assert proc.returncode == 0, err.decode()
    assert held(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root to unshare a network namespace")
def test_slots_are_distinct_across_network_namespaces(tmp_path):
    """Two runs, each in a network namespace of its own, sharing the slot
    directory: each holds a different uid."""
    procs = [start(tmp_path, 3, netns=True) for _ in range(2)]
    h = wait_held(tmp_path, 2)
    for p in procs:
        _, err = p.communicate(timeout=30)
        assert p.returncode == 0, err.decode()
    assert len(h) == 2 and h[0] != h[1], h


def test_a_held_slot_is_skipped(tmp_path):
    """A slot taken by someone else (here: this test) is not used."""
    proc = start(tmp_path, 3)
    first = wait_held(tmp_path, 1)
    assert first
    proc.communicate(timeout=30)
    with open(tmp_path / first[0]) as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        seen = set()
        for _ in range(3):
            p = start(tmp_path, 2)
            h = wait_held(tmp_path, 2)
            p.communicate(timeout=30)
            seen.update(x for x in h if x != first[0])
        assert seen and first[0] not in seen


def abstract_held(uid):
    """Whether the abstract-socket lock of uid's slot is taken."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.bind(b"\0llmrepl-sbx-uid-%d" % uid)
    except OSError:
        return True
    finally:
        s.close()
    return False


def test_a_slot_directory_run_also_holds_the_socket_lock(tmp_path):
    """Runs with and without a slot directory on one host never share a uid:
    a run locking its slot's file holds the slot's socket as well, and a
    slot whose socket is taken is skipped."""
    proc = start(tmp_path, 3)
    h = wait_held(tmp_path, 1)
    try:
        assert len(h) == 1, h
        assert abstract_held(int(h[0].split("-", 1)[1]))
    finally:
        proc.communicate(timeout=30)
    assert not abstract_held(int(h[0].split("-", 1)[1]))
