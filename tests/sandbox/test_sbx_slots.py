"""uid slots locked in a shared directory (LLMREPL_SANDBOX_SLOT_DIR): what
lets sandboxes in separate network namespaces (worker containers on one host),
where the abstract-socket locks do not meet, still take a uid each."""
import fcntl
import json
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


def cgroup_dirs(prefix="llmrepl-sbx-"):
    """The sandbox's cgroups in every mounted hierarchy, at any depth."""
    import glob
    return {d for d in glob.glob("/sys/fs/cgroup/**/%s*" % prefix, recursive=True)
            if os.path.isdir(d)}


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root to unshare a network namespace")
@pytest.mark.parametrize("slot_dir", [False, True], ids=["abstract", "slot-dir"])
def test_another_scope_leaves_a_ready_cgroup_alone(tmp_path, slot_dir):
    """A process keeps its uid slot's cgroup ready (empty) between two cold
    runs. A sandbox in another network namespace, whose slot locks do not
    see this process's, starts meanwhile and sweeps leftovers: it must not
    take the ready cgroup for one and remove it, or the next run could not
    join it."""
    env = dict(os.environ)
    if slot_dir:
        (tmp_path / "a").mkdir()
        env["LLMREPL_SANDBOX_SLOT_DIR"] = str(tmp_path / "a")
    probe = subprocess.Popen([binary("tests/drivers/sbx_cold_probe")], env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        first = probe.stdout.readline()
        assert first.startswith("exited 0 "), (first, probe.stderr.read())
        if "cgroup" not in first.split("|")[0]:
            pytest.skip("runs go without cgroups here")
        uid = first.split()[2]
        # Made by its first run, or left by an earlier process and taken over.
        mine = {d for d in cgroup_dirs() if d.endswith("-u" + uid)}
        other_env = dict(os.environ)
        if slot_dir:
            (tmp_path / "b").mkdir()
            other_env["LLMREPL_SANDBOX_SLOT_DIR"] = str(tmp_path / "b")
        other = subprocess.run(["unshare", "--net", binary("llmrepl-sandbox"), "-c", "pass"],
                               env=other_env, capture_output=True, timeout=60)
        assert other.returncode == 0, other.stderr.decode()
        assert mine and all(os.path.isdir(d) for d in mine), mine
        out, err = probe.communicate("next\n", timeout=60)
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()
    assert out.startswith("exited 0 ") and "could not join" not in out, (out, err)
    assert probe.returncode == 0, (out, err)


def slot_scope(slot_dir):
    """The scope hex of a slot directory's cgroup names (sbx_slot.c's
    scope_init: device and inode, mixed by splitmix64's finalizer)."""
    st = os.stat(slot_dir)
    dev = (os.major(st.st_dev) << 20) ^ os.minor(st.st_dev)
    z = ((dev << 32) ^ st.st_ino) & (2**64 - 1)
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & (2**64 - 1)
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & (2**64 - 1)
    return "%016x" % (z ^ (z >> 31))


def own_memory_cgroup():
    """This process's cgroup v1 memory directory, or None."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctl, path = line.rstrip("\n").split(":", 2)
            if "memory" in ctl.split(","):
                d = "/sys/fs/cgroup/memory" + path.rstrip("/")
                return d if os.path.isdir(d) else None
    return None


@pytest.mark.skipif(os.geteuid() != 0 or own_memory_cgroup() is None,
                    reason="needs root and a cgroup v1 memory hierarchy")
@pytest.mark.parametrize("pool", [False, True], ids=["cold", "pool"])
def test_a_slot_whose_cgroup_another_still_holds_is_given_up(tmp_path, pool):
    """Another process's leftover (its host killed, its processes not yet
    gone) still fills the cgroup of a free uid slot. A run that takes that
    slot must give it up for another, pool as cold, and run with cgroups:
    never without them because of another's leftovers. Every slot but two is
    held here; the busy one comes first from wherever the scan starts, except
    from the other."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip("too few file descriptors to hold the slots")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    slots = tmp_path / "slots"
    slots.mkdir()
    busy, free = 60500, 60501
    held_files = []
    leftover = os.path.join(own_memory_cgroup(),
                            "llmrepl-sbx-%s-u%d" % (slot_scope(slots), busy))
    sleeper = None
    try:
        for uid in range(60000, 61000):
            if uid in (busy, free):
                continue
            f = open(slots / ("uid-%d" % uid), "w")
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held_files.append(f)
        os.mkdir(leftover)
        sleeper = subprocess.Popen(["sleep", "600"])
        with open(os.path.join(leftover, "cgroup.procs"), "w") as f:
            f.write(str(sleeper.pid))
        env = dict(os.environ, LLMREPL_SANDBOX_SLOT_DIR=str(slots))
        cmd = [binary("llmrepl-sandbox"), "--json", "--timeout", "30"]
        if pool:
            cmd.append("--pool")
        for _ in range(3):
            out = subprocess.run(cmd + ["-c", "pass"], env=env, capture_output=True,
                                 timeout=120)
            r = json.loads(out.stdout.decode().splitlines()[0])
            assert r["end"] == "exited", r
            assert "cgroup" in r["isolation"], r
    finally:
        if sleeper is not None:
            sleeper.kill()
            sleeper.wait()
        for f in held_files:
            f.close()
        for _ in range(100):
            try:
                os.rmdir(leftover)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)
