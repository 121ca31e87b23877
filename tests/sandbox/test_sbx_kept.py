"""A cgroup (v1) left ready by one llmrepl-sandbox process for the next of its
scope: the next process takes it over with its uid slot instead of making
one, and only when it holds nothing of anyone: a process in it, a cgroup
below it or limits another left are detected, and the run goes elsewhere or
with its own limits. Each test has a scope of its own (a slot directory), so
other sandboxes on the host neither take nor leave what it looks at."""
import glob
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import ROOT
from sbxkit import cli, flags

UID = "import os\nprint(os.getuid())\n"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="uid slots and cgroups need root")


def scope_of(slot_dir):
    """The scope in the names of a slot directory's cgroups (sbx_slot.c)."""
    st = os.stat(slot_dir)
    m = (1 << 64) - 1
    dev = (os.major(st.st_dev) << 20) ^ os.minor(st.st_dev)
    z = ((dev << 32) ^ st.st_ino) & m
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & m
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & m
    return "%016x" % (z ^ (z >> 31))


NAME = "llmrepl-sbx-%s-u%s"


def dirs(uid, scope="*"):
    """The cgroups named after uid's slot, in every hierarchy."""
    return sorted(d for d in glob.glob("/sys/fs/cgroup/*/**/" + NAME % (scope, uid),
                                       recursive=True) if os.path.isdir(d))


def procs(d):
    with open(os.path.join(d, "cgroup.procs")) as f:
        return f.read().split()


def read(d, name):
    with open(os.path.join(d, name)) as f:
        return f.read().strip()


def write(d, name, value):
    with open(os.path.join(d, name), "w") as f:
        f.write(value)


def hierarchy(paths, name):
    return [d for d in paths if "/%s/" % name in d or "/%s," % name in d
            or ",%s/" % name in d]


@pytest.fixture
def scope(tmp_path):
    """A private scope: its own slot directory, whose state is kept between
    processes (LLMREPL_SANDBOX_KEEP=1). What its processes kept is removed
    afterwards."""
    slots = tmp_path / "slots"
    slots.mkdir()
    env = dict(os.environ, LLMREPL_SANDBOX_SLOT_DIR=str(slots), LLMREPL_SANDBOX_KEEP="1",
               LLMREPL_SBX_TRACE="1")
    name = scope_of(slots)
    seen = set()

    def run(code, *extra):
        path = tmp_path / ("c%d.py" % len(list(tmp_path.glob("c*.py"))))
        path.write_text(code)
        proc, results = cli(flags(timeout=20, extra=extra), env=env, files=[str(path)])
        assert proc.returncode in (0, 1), proc.stderr.decode()
        r = results[0]
        r["trace"] = [line for line in proc.stderr.decode().splitlines()
                      if line.startswith("sbx-trace cold")]
        for word in r["stdout"].split():
            if word.isdigit():
                seen.add(word)
        return r

    run.name = name
    yield run
    for path in glob.glob("/run/llmrepl-sbx/tmpl-%s-*" % name):
        subprocess.run(["umount", "-l", path], capture_output=True)
        os.unlink(path)
    for uid in seen:
        ns = "/run/llmrepl-sbx/" + NAME % (name, uid)
        if os.path.exists(ns):
            subprocess.run(["umount", "-l", ns], capture_output=True)
            os.unlink(ns)
        for d in sorted(dirs(uid, name), key=len, reverse=True):
            if not procs(d):
                try:
                    os.rmdir(d)
                except OSError:
                    pass


def first_run(scope):
    r = scope(UID)
    assert r["end"] == "exited", r
    if "cgroup" not in r["isolation"] or "uid" not in r["isolation"]:
        pytest.skip("runs go without cgroups or uid slots here")
    uid = r["stdout"].strip()
    kept = dirs(uid, scope.name)
    if not kept:
        pytest.skip("cgroups are not kept between processes here (cgroup v2, or a scope "
                    "of its own)")
    return uid, kept


def test_the_next_process_takes_over_the_kept_cgroup(scope):
    uid, kept = first_run(scope)
    assert all(procs(d) == [] for d in kept), kept
    r = scope(UID)
    assert r["end"] == "exited" and r["stdout"].strip() == uid, (uid, r)
    assert dirs(uid, scope.name) == kept


def test_a_kept_cgroup_with_a_process_in_it_is_not_used(scope):
    uid, kept = first_run(scope)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        write(hierarchy(kept, "memory")[0], "cgroup.procs", str(sleeper.pid))
        r = scope(UID)
        assert r["end"] == "exited" and "cgroup" in r["isolation"], r
        assert r["stdout"].strip() != uid, r
        assert str(sleeper.pid) in procs(hierarchy(kept, "memory")[0])
    finally:
        sleeper.send_signal(signal.SIGKILL)
        sleeper.wait()


@pytest.mark.parametrize("below", ["run", "run1", "other"])
def test_a_kept_cgroup_with_one_below_it_is_made_afresh(scope, below):
    """A cgroup below the kept one (a pool's srv, run, run1; any name) makes
    it unfit as it is: the empty ones are removed and the cgroup made again
    for the same slot."""
    uid, kept = first_run(scope)
    os.mkdir(os.path.join(hierarchy(kept, "memory")[0], below))
    r = scope(UID)
    assert r["end"] == "exited" and "cgroup" in r["isolation"], r
    assert r["stdout"].strip() == uid, r
    assert not os.path.exists(os.path.join(hierarchy(kept, "memory")[0], below))


def test_a_kept_cgroup_gets_the_runs_own_limits(scope):
    """Someone lowered the kept cgroup's limits and turned its OOM killer
    off: the next run still gets its own (4 processes and 64 MB under the
    defaults), and a run over its memory is killed, not left hanging."""
    uid, kept = first_run(scope)
    mem = hierarchy(kept, "memory")[0]
    pids = hierarchy(kept, "pids")
    cpu = hierarchy(kept, "cpu")
    write(mem, "memory.limit_in_bytes", str(16 << 20))
    if os.path.exists(os.path.join(mem, "memory.memsw.limit_in_bytes")):
        write(mem, "memory.memsw.limit_in_bytes", str(16 << 20))
    write(mem, "memory.oom_control", "1")
    if pids:
        write(pids[0], "pids.max", "2")
    if cpu:
        write(cpu[0], "cpu.cfs_period_us", "1000000")
    r = scope("import os, subprocess\n"
              "b = bytearray(64 << 20)\n"
              "b[::4096] = b'x' * len(b[::4096])\n"
              "ps = [subprocess.Popen(['/usr/bin/sleep', '0.2']) for _ in range(4)]\n"
              "print(sum(p.wait() for p in ps))\n"
              "print(os.getuid())\n")
    assert r["end"] == "exited" and r["stdout"].split() == ["0", uid], r
    assert read(mem, "memory.limit_in_bytes") == str(256 << 20)
    assert "oom_kill_disable 0" in read(mem, "memory.oom_control")
    if pids:
        assert read(pids[0], "pids.max") == "33"
    if cpu:
        assert read(cpu[0], "cpu.cfs_period_us") == "100000"
    r = scope("b = bytearray(200 << 20)\nb[::4096] = b'x' * len(b[::4096])\n",
              "--memory", "64")
    assert r["end"] == "memory", r


# The network namespace kept for the slot beside its cgroup (as root):
# bound at /run/llmrepl-sbx/llmrepl-sbx-<scope>-u<uid>, joined by the slot's next holder
# only when it is empty (one interface, the loopback, down; no socket).
NETNS = ("import os\n"
         "print(os.getuid())\n"
         "print(os.stat('/proc/self/ns/net').st_ino)\n")
PROBE = ("import os, socket\n"
         "c = socket.socket(socket.AF_UNIX)\n"
         "try:\n"
         "    c.connect('\\0llmrepl-kept-probe')\n"
         "    print('connected')\n"
         "except OSError as e:\n"
         "    print(type(e).__name__)\n"
         "print(os.getuid())\n"
         "print(os.stat('/proc/self/ns/net').st_ino)\n")


def netns_run(scope, code=NETNS):
    r = scope(code)
    assert r["end"] == "exited", r
    return r["stdout"].split()


def kept_netns(scope):
    uid, _ = first_run(scope)
    path = "/run/llmrepl-sbx/" + NAME % (scope.name, uid)
    if not os.path.exists(path):
        pytest.skip("no network namespace kept here")
    return uid, path


def test_the_next_process_joins_the_kept_network_namespace(scope):
    uid, path = kept_netns(scope)
    assert netns_run(scope)[0] == uid
    first = netns_run(scope)
    second = netns_run(scope)
    assert first[0] == second[0] == uid, (first, second)
    assert first[1] == second[1] == str(os.stat(path).st_ino), (first, second)
    assert first[1] != str(os.stat("/proc/self/ns/net").st_ino)


def test_a_kept_network_namespace_with_the_loopback_up_is_not_used(scope):
    uid, path = kept_netns(scope)
    ino = os.stat(path).st_ino
    subprocess.run(["nsenter", "--net=" + path, "ip", "link", "set", "lo", "up"], check=True)
    out = netns_run(scope)
    assert out[0] == uid and out[1] != str(ino), (out, ino)
    # Replaced: the next process finds the new one (the loopback down).
    assert os.stat(path).st_ino != ino
    assert netns_run(scope)[1] == str(os.stat(path).st_ino)


def test_a_kept_network_namespace_with_a_socket_in_it_is_not_used(scope):
    uid, path = kept_netns(scope)
    ino = os.stat(path).st_ino
    listener = subprocess.Popen(
        ["nsenter", "--net=" + path, "/usr/bin/python3", "-c",
         "import socket, time\n"
         "s = socket.socket(socket.AF_UNIX)\n"
         "s.bind('\\0llmrepl-kept-probe')\n"
         "s.listen(1)\n"
         "print('ready', flush=True)\n"
         "time.sleep(60)\n"], stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "ready"
        out = netns_run(scope, PROBE)
        assert out[0] == "ConnectionRefusedError", out
        assert out[1] == uid and out[2] != str(ino), (out, ino)
    finally:
        listener.kill()
        listener.wait()


def test_the_hosts_network_namespace_bound_there_is_not_used(scope):
    uid, path = kept_netns(scope)
    subprocess.run(["umount", "-l", path], check=True)
    subprocess.run(["mount", "--bind", "/proc/self/ns/net", path], check=True)
    host = str(os.stat("/proc/self/ns/net").st_ino)
    try:
        out = netns_run(scope)
        assert out[0] == uid and out[1] != host, (out, host)
    finally:
        if str(os.stat(path).st_ino) == host:
            subprocess.run(["umount", "-l", path])


def test_a_full_scope_makes_room_for_the_namespace_being_kept(scope):
    """A scope keeps at most 32 namespaces; at that many, one kept for a slot
    nobody holds goes so that the process ending now keeps its own, and the
    next process joins it instead of making another."""
    uid, path = kept_netns(scope)
    subprocess.run(["umount", "-l", path], check=True)
    os.unlink(path)
    others = [u for u in range(60000, 61000) if str(u) != uid][:32]
    fakes = ["/run/llmrepl-sbx/" + NAME % (scope.name, u) for u in others]
    try:
        for f in fakes:
            open(f, "w").close()
        made = netns_run(scope)
        assert made[0] == uid, made
        assert os.path.exists(path)
        assert str(os.stat(path).st_ino) == made[1]
        assert sum(os.path.exists(f) for f in fakes) == 31
        assert netns_run(scope)[1] == made[1]
    finally:
        for f in fakes:
            if os.path.exists(f):
                os.unlink(f)


def test_a_slot_directory_keeps_nothing_unless_asked(tmp_path):
    """A slot directory may be a temporary one: without
    LLMREPL_SANDBOX_KEEP=1 its processes remove what they made."""
    slots = tmp_path / "slots"
    slots.mkdir()
    env = dict(os.environ, LLMREPL_SANDBOX_SLOT_DIR=str(slots))
    proc, results = cli(flags() + ["-c", UID], env=env)
    r = results[0]
    assert r["end"] == "exited", r
    uid = r["stdout"].strip()
    assert dirs(uid, scope_of(slots)) == []
    assert not os.path.exists("/run/llmrepl-sbx/" + NAME % (scope_of(slots), uid))


def test_what_an_older_build_kept_goes(scope):
    """An older build kept namespaces as /run/llmrepl-sbx/netns-<uid> (no scope in
    the name): nothing looks for them, and each cold run's copy of the host's mount
    table carried them. A process that keeps a namespace removes them."""
    os.makedirs("/run/llmrepl-sbx", mode=0o700, exist_ok=True)
    path = "/run/llmrepl-sbx/netns-%d" % (70000 + os.getpid() % 10000)
    open(path, "w").close()
    subprocess.run(["unshare", "--net=" + path, "true"], check=True)
    try:
        kept_netns(scope)
        assert not os.path.exists(path)
    finally:
        if os.path.exists(path):
            subprocess.run(["umount", "-l", path], capture_output=True)
            os.unlink(path)


def test_the_next_process_copies_the_mount_template_the_first_bound(scope):
    """A scope that outlives its processes shares its mount template: bound at
    /run/llmrepl-sbx/tmpl-<scope>-<key>-<second> by the process that built it,
    copied by the next (ten seconds at most after it was built)."""
    began = time.monotonic()
    first = scope(UID)
    assert first["end"] == "exited", first
    if "uid" not in first["isolation"]:
        pytest.skip("not root here")
    bound = glob.glob("/run/llmrepl-sbx/tmpl-%s-*" % scope.name)
    assert len(bound) == 1, bound
    assert "h.tbuild=" in first["trace"][0] and "c.template=" in first["trace"][0], first
    ino = os.stat(bound[0]).st_ino
    second = scope(UID)
    assert second["end"] == "exited" and second["stdout"] == first["stdout"], second
    assert "c.template=" in second["trace"][0], second
    if time.monotonic() - began < 9:
        # Not built again: the first process's, as it was bound.
        assert "h.template=" in second["trace"][0], second
        assert glob.glob("/run/llmrepl-sbx/tmpl-%s-*" % scope.name) == bound
        assert os.stat(bound[0]).st_ino == ino


def test_a_template_of_an_entry_changed_since_is_not_copied(scope, tmp_path):
    """`make` replaces the entry's .pyc files in its __pycache__: a template built
    before that (whose overlay may still show the old files) is not used."""
    py = tmp_path / "py"
    shutil.copytree(ROOT / "sandbox" / "py", py)
    first = scope(UID, "--py-dir", str(py))
    assert first["end"] == "exited", first
    if "uid" not in first["isolation"]:
        pytest.skip("not root here")
    assert "h.tbuild=" in first["trace"][0], first
    again = scope(UID, "--py-dir", str(py))
    if "h.tbuild=" in again["trace"][0]:
        pytest.skip("the first template was ten seconds old already")
    st = os.stat(py / "__pycache__")
    os.utime(py / "__pycache__", ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
    changed = scope(UID, "--py-dir", str(py))
    assert changed["end"] == "exited", changed
    assert "h.tbuild=" in changed["trace"][0], changed
