"""Hostile code: each attempt is contained, reported with the right end, and
leaves nothing behind on the host."""
import glob
import os
import platform
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest

from conftest import binary
from sbxkit import answer_error, processes_matching

pytest_plugins = ["sbxfixtures"]


def test_no_network_to_a_host_port(run, mode, tmp_path):
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    tcp.settimeout(0.2)
    port = tcp.getsockname()[1]
    abstract = "\0llmrepl-test-%s" % uuid.uuid4().hex
    unx = socket.socket(socket.AF_UNIX)
    unx.bind(abstract)
    unx.listen(8)
    unx.settimeout(0.2)
    path = str(tmp_path / "sock")
    named = socket.socket(socket.AF_UNIX)
    named.bind(path)
    named.listen(8)
    named.settimeout(0.2)
    code = ("import socket\n"
            "def attempt(name, fn):\n"
            "    try:\n"
            "        fn()\n"
            "        print(name, 'CONNECTED')\n"
            "    except OSError as e:\n"
            "        print(name, type(e).__name__)\n"
            "attempt('tcp', lambda: socket.create_connection(('127.0.0.1', %d), timeout=1))\n"
            "attempt('udp', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
            ".sendto(b'x', ('127.0.0.1', %d)))\n"
            "attempt('tcp6', lambda: socket.create_connection(('::1', %d), timeout=1))\n"
            "attempt('netlink', lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW))\n"
            "attempt('packet', lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW))\n"
            "attempt('abstract', lambda: socket.socket(socket.AF_UNIX).connect(%r))\n"
            "attempt('named', lambda: socket.socket(socket.AF_UNIX).connect(%r))\n"
            % (port, port, port, abstract, path))
    try:
        r = run(code, pool=mode)
        for listener in (tcp, unx, named):
            with pytest.raises(socket.timeout):
                listener.accept()
    finally:
        tcp.close()
        unx.close()
        named.close()
    assert r["end"] == "exited" and r["exit_code"] == 0, r["stderr"]
    assert "CONNECTED" not in r["stdout"]
    got = dict(line.split() for line in r["stdout"].splitlines())
    # Only AF_UNIX sockets can be made, and they reach nothing of the host's.
    assert got["tcp"] == got["udp"] == got["netlink"] == got["packet"] == "PermissionError"
    assert got["abstract"] == "ConnectionRefusedError"
    assert got["named"] == "FileNotFoundError"


def test_writes_outside_the_work_dir(run, mode):
    marker = "llmrepl-test-%s" % uuid.uuid4().hex
    code = ("import os\n"
            "for p in ['/usr/x', '/usr/bin/python3', '/etc/passwd', '/x', '/bin/x', '/lib/x',"
            " '/sandbox/llmrepl_entry.py', '/sandbox/x', '/dev/x', '/proc/sys/kernel/hostname',"
            " '/proc/self/exe', '/work/../x']:\n"
            "    try:\n"
            "        with open(p, 'a') as f:\n"
            "            f.write('x')\n"
            "        print('WROTE', p)\n"
            "    except OSError as e:\n"
            "        pass\n"
            "for p in ['/work/ok', '/tmp/%s', '/dev/shm/ok', '/dev/null']:\n"
            "    with open(p, 'w') as f:\n"
            "        f.write('fine')\n"
            "print('done')\n" % marker)
    r = run(code, pool=mode)
    assert r["end"] == "exited" and r["stdout"] == "done\n", r["stderr"]
    # Its /tmp is its own: nothing arrived in the host's.
    assert not os.path.exists("/tmp/" + marker)


def test_host_environment_is_not_visible(run, mode):
    secret = "llmrepl-secret-%s" % uuid.uuid4().hex
    env = dict(os.environ, LLMREPL_TEST_SECRET=secret, AWS_SECRET_ACCESS_KEY=secret)
    code = ("import os\n"
            "print(sorted(os.environ.items()))\n"
            "for p in ['/proc/self/environ', '/proc/1/environ', '/proc/1/cmdline']:\n"
            "    try:\n"
            "        print(p, open(p, 'rb').read())\n"
            "    except OSError as e:\n"
            "        print(p, type(e).__name__)\n")
    r = run(code, pool=mode, env=env)
    assert r["end"] == "exited", r
    assert secret not in r["stdout"] and "AWS" not in r["stdout"]
    # pid 1 (the namespace's init, or the pool's server) is not even visible.
    assert "/proc/1/environ FileNotFoundError" in r["stdout"]


def test_other_processes_are_not_visible(run, mode):
    me = os.getpid()
    code = ("import os\n"
            "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
            "print(pids == [os.getpid()], pids)\n"
            "print(os.path.exists('/proc/%d'), os.path.exists('/proc/1/mem'))\n"
            "try:\n"
            "    open('/proc/1/mem', 'rb')\n"
            "    print('OPENED')\n"
            "except OSError as e:\n"
            "    print(type(e).__name__)\n" % me)
    r = run(code, pool=mode)
    assert r["end"] == "exited", r
    lines = r["stdout"].splitlines()
    assert lines[0].startswith("True"), lines
    assert lines[1] == "False False" and lines[2] == "FileNotFoundError"


def test_killing_the_parent_and_everything(run_many):
    code = ("import os, signal\n"
            "for target in (os.getppid(), 1, -1, 0):\n"
            "    try:\n"
            "        os.kill(target, signal.SIGKILL if target != 0 else signal.SIGCONT)\n"
            "    except OSError as e:\n"
            "        print(target, type(e).__name__)\n"
            "print('alive')\n")
    # Cold: pid 1 is the init; through the pool: the server. The second pool
    # run shows the server survived.
    first, second = run_many([code, "print('next')"])
    assert first["end"] == "exited" and first["stdout"].endswith("alive\n"), first
    assert second["end"] == "exited" and second["stdout"] == "next\n", second


def test_killing_the_parent_cold(run):
    r = run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
            "os.kill(1, signal.SIGKILL)\nprint('alive')\n")
    assert r["end"] == "exited" and r["stdout"] == "alive\n"


def test_setsid_and_double_fork_daemons_leave_nothing(run, mode):
    marker = "1000.%d" % (uuid.uuid4().int % 10**9)
    code = ("import os, time\n"
            "for i in range(3):\n"
            "    if os.fork() == 0:\n"
            "        os.setsid()\n"
            "        if os.fork() == 0:\n"
            "            os.setsid()\n"
            "            os.execv('/usr/bin/sleep', ['sleep', '%s'])\n"
            "        os._exit(0)\n"
            "    os.wait()\n"
            "time.sleep(0.2)\n"
            "print('parent done')\n" % marker)
    r = run(code, pool=mode)
    # Exited (not timeout): the run did not wait for its daemons.
    assert r["end"] == "exited" and r["stdout"] == "parent done\n", r
    assert processes_matching(marker) == []


def test_stopped_processes_are_killed_too(run, mode):
    marker = "1000.%d" % (uuid.uuid4().int % 10**9)
    code = ("import os, signal, time\n"
            "if os.fork() == 0:\n"
            "    os.execv('/usr/bin/sleep', ['sleep', '%s'])\n"
            "time.sleep(0.2)\n"
            "os.kill(0, signal.SIGSTOP)\n" % marker)
    r = run(code, pool=mode, timeout=1)
    assert r["end"] == "timeout"
    assert processes_matching(marker) == []


@pytest.mark.parametrize("code,sig", [
    ("import ctypes\nctypes.string_at(0)\n", 11),
    ("import os\nos.abort()\n", 6),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n", 15),
])
def test_killed_by_its_own_signal(run, mode, code, sig):
    r = run(code, pool=mode)
    assert r["end"] == "signaled" and r["signal"] == sig, r
    assert r["cli_status"] == 1


def test_os_exit(run, mode):
    r = run("import os\nprint('bye', flush=True)\nos._exit(7)\n", pool=mode)
    assert r["end"] == "exited" and r["exit_code"] == 7 and r["stdout"] == "bye\n"
    assert r["answer"] is None


def test_deep_recursion(run, mode):
    r = run("import sys\nsys.setrecursionlimit(200000)\n"
            "def f(n):\n    return f(n + 1)\nf(0)\n", pool=mode, timeout=20)
    # The interpreter's own limit, or a C stack overflow ending in SIGSEGV.
    assert (r["end"], answer_error(r)) == ("exited", "RecursionError") or \
        (r["end"], r["signal"]) == ("signaled", 11), r


def test_stdin_is_empty(run, mode):
    r = run("import sys\nprint(repr(sys.stdin.read()))\ninput()\n", pool=mode)
    assert r["end"] == "exited" and r["exit_code"] == 1
    assert r["stdout"] == "''\n" and answer_error(r) == "EOFError"


def test_symlinks_planted_for_the_host(run_many, tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    target = host / "host-file"
    target.write_text("host data")
    before = sorted(os.listdir(host))
    plant = ("import os\n"
             "for link in ['/work/out', '/work/report.json', '/tmp/x', '/tmp/main.py',"
             " '/work/cgroup.procs', '/work/d']:\n"
             "    os.symlink(%r, link)\n"
             "os.symlink('/sandbox', '/work/sandbox-link')\n"
             "os.symlink('/tmp', '/work/tmp-link')\n"
             "os.mkdir('/work/locked'); open('/work/locked/f', 'w').close()\n"
             "os.chmod('/work/locked', 0)\n"
             "for link in ['/work/out', '/tmp/x']:\n"
             "    try:\n"
             "        open(link, 'w').write('overwritten')\n"
             "        print('WROTE THROUGH', link)\n"
             "    except OSError as e:\n"
             "        print(type(e).__name__)\n" % str(target))
    check = ("import os\n"
             "print(sorted(os.listdir('/work')), sorted(os.listdir('/tmp')),"
             " sorted(os.listdir('/sandbox'))[:1])\n")
    first, second = run_many([plant, check])
    assert first["end"] == "exited", first
    assert "WROTE THROUGH" not in first["stdout"]
    # The pool wiped the work dir and /tmp without following a link.
    assert second["end"] == "exited", second
    assert second["stdout"].startswith("['main.py'] [] ['"), second["stdout"]
    assert target.read_text() == "host data"
    assert sorted(os.listdir(host)) == before


def test_symlinks_planted_cold(run, tmp_path):
    target = tmp_path / "host-file"
    target.write_text("host data")
    r = run("import os\nos.symlink(%r, '/work/link')\nopen('/work/link', 'w').write('x')\n"
            % str(target))
    assert r["end"] == "exited" and r["exit_code"] == 1
    assert answer_error(r) == "FileNotFoundError"
    assert target.read_text() == "host data"


KILLED = [
    ("ptrace", "libc.ptrace(0, 0, 0, 0)"),
    ("mount", "libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)"),
    ("umount", "libc.umount2(b'/usr', 2)"),
    ("bpf", "libc.syscall(321, 0, 0, 0)"),
    ("keyctl", "libc.syscall(250, 0, 0, 0, 0, 0)"),
    ("add_key", "libc.syscall(248, b'user', b'k', b'v', 1, -2)"),
    ("unshare", "libc.unshare(0x10000000)"),
    ("setns", "libc.setns(0, 0)"),
    ("chroot", "libc.chroot(b'/tmp')"),
    ("pivot_root", "libc.syscall(155, b'/tmp', b'/tmp')"),
    ("perf_event_open", "libc.syscall(298, 0, 0, -1, -1, 0)"),
    ("userfaultfd", "libc.syscall(323, 0)"),
    ("io_uring_setup", "libc.syscall(425, 1, 0)"),
    ("process_vm_readv", "libc.syscall(310, 1, 0, 0, 0, 0, 0)"),
    ("init_module", "libc.syscall(175, 0, 0, b'')"),
    ("kexec_load", "libc.syscall(246, 0, 0, 0, 0)"),
    ("reboot", "libc.syscall(169, 0, 0, 0, 0)"),
]


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86_64 syscall numbers")
@pytest.mark.parametrize("name,call", KILLED, ids=[k[0] for k in KILLED])
def test_refused_syscalls_kill(run, name, call):
    r = run("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "print('trying', flush=True)\n%s\nprint('SURVIVED')\n" % call)
    assert r["end"] == "signaled" and r["signal"] == 31, (name, r)  # SIGSYS
    assert r["stdout"] == "trying\n"


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86_64 syscall numbers")
def test_refused_syscalls_fail_with_an_error(run, mode):
    code = ("import ctypes, errno, os, socket, fcntl, termios\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "def err(rc):\n"
            "    return errno.errorcode.get(ctypes.get_errno(), 'OK') if rc == -1 else 'OK'\n"
            "print('clone3', err(libc.syscall(435, 0, 0)))\n"
            "print('shmget', err(libc.syscall(29, 0, 4096, 0o1600)))\n"
            "print('msgget', err(libc.syscall(68, 0, 0o1600)))\n"
            "print('flock', err(libc.flock(0, 2)))\n"
            "print('personality', err(libc.personality(0x0040000)))\n"
            "print('tiocsti', err(libc.ioctl(1, (1 << 32) | termios.TIOCSTI, b'x')))\n"
            "print('setuid', err(libc.syscall(105, 0)))\n"
            "print('mincore', err(libc.syscall(27, 0, 4096, 0)))\n"
            "print('inotify', err(libc.syscall(253)))\n"
            "print('prlimit_other', err(libc.syscall(302, 1, 7, 0, 0)))\n"
            "print('mknod_dev', err(libc.syscall(133, b'/work/d', 0o20600, 0x103)))\n"
            "os.mkfifo('/work/fifo')\n"
            "print('mkfifo OK')\n")
    r = run(code, pool=mode)
    assert r["end"] == "exited" and r["exit_code"] == 0, r
    got = dict(line.split() for line in r["stdout"].splitlines())
    assert got.pop("clone3") == "ENOSYS"
    assert got.pop("mkfifo") == "OK"
    assert got == {k: "EPERM" for k in got}, got


def test_nice_and_cpus_are_the_callers_own_only(run, mode):
    # Its own nice, its process group's and its uid's (who 0), its own CPUs
    # (pid 0); any other process, its own child included, is refused before
    # the kernel looks at uids (the pool's zygote holds the running lane's
    # uid as its effective one, which the kernel would let that uid renice).
    code = ("import os, subprocess, sys\n"
            "def err(f):\n"
            "    try:\n"
            "        f()\n"
            "        return 'OK'\n"
            "    except OSError as e:\n"
            "        return 'EPERM' if e.errno == 1 else str(e.errno)\n"
            "cpus = os.sched_getaffinity(0)\n"
            "base = min(os.getpriority(os.PRIO_PROCESS, 0), 16)\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
            "print('self_nice', err(lambda: os.setpriority(os.PRIO_PROCESS, 0, base + 1)))\n"
            "print('pgrp_nice', err(lambda: os.setpriority(os.PRIO_PGRP, 0, base + 2)))\n"
            "print('user_nice', err(lambda: os.setpriority(os.PRIO_USER, 0, base + 3)))\n"
            "print('self_cpus', err(lambda: os.sched_setaffinity(0, cpus)))\n"
            "print('child_nice', err(lambda: os.setpriority(os.PRIO_PROCESS, child.pid, 19)))\n"
            "print('child_cpus', err(lambda: os.sched_setaffinity(child.pid, cpus)))\n"
            "print('own_pid_nice', err(lambda: os.setpriority(os.PRIO_PROCESS, os.getpid(), 19)))\n"
            "print('nice_now', os.getpriority(os.PRIO_PROCESS, 0) - base)\n"
            "child.kill()\n")
    r = run(code, pool=mode)
    assert r["end"] == "exited" and r["exit_code"] == 0, r
    got = dict(line.split() for line in r["stdout"].splitlines())
    assert got == {"self_nice": "OK", "pgrp_nice": "OK", "user_nice": "OK", "self_cpus": "OK",
                   "child_nice": "EPERM", "child_cpus": "EPERM", "own_pid_nice": "EPERM",
                   "nice_now": "3"}, got


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86_64 machine code")
def test_32_bit_syscalls_kill(run):
    # mov eax, 20 (getpid on i386); int 0x80; ret: the filter kills any
    # system call made through the 32-bit entry.
    code = ("import ctypes, mmap\n"
            "buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
            "buf.write(bytes([0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xc3]))\n"
            "addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))\n"
            "print('trying', flush=True)\n"
            "print(ctypes.CFUNCTYPE(ctypes.c_int)(addr)())\n")
    r = run(code)
    assert r["end"] == "signaled" and r["signal"] == 31, r
    assert r["stdout"] == "trying\n"


def test_concurrent_runs_are_separate(run):
    # Two runs at once: each sees only its own processes and files.
    results = []

    def one(tag):
        results.append(run("import os, time\nopen('/tmp/%s', 'w').close()\ntime.sleep(0.3)\n"
                           "print(sorted(os.listdir('/tmp')), len([p for p in os.listdir("
                           "'/proc') if p.isdigit()]))\n" % tag))

    threads = [threading.Thread(target=one, args=(t,)) for t in ("a", "b")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    outs = sorted(r["stdout"] for r in results)
    assert outs == ["['a'] 1\n", "['b'] 1\n"], results


def cgroup_procs(d):
    """The pids in a cgroup; none when it went meanwhile (other sandboxes'
    cgroups come and go while the test looks)."""
    try:
        with open(os.path.join(d, "cgroup.procs")) as f:
            return f.read().split()
    except OSError:
        return []


def test_host_killed_mid_run_leaves_nothing(run):
    """The process running the sandbox dies (SIGKILL): the sandbox dies with
    it, and the cgroup it could not remove is removed by the next run, or
    taken over empty (a cgroup left between two processes of the scope)."""
    marker = "1000.%d" % (uuid.uuid4().int % 10**9)
    proc = subprocess.Popen([binary("llmrepl-sandbox"), "--timeout", "60", "-c",
                             "import os\nos.execv('/usr/bin/sleep', ['sleep', '%s'])\n" % marker])
    deadline = time.time() + 10
    while not processes_matching("sleep " + marker) and time.time() < deadline:
        time.sleep(0.05)
    assert processes_matching("sleep " + marker), "the run did not start"
    sleeper = processes_matching("sleep " + marker)[0].split()[0]
    # The run's cgroups: named after its uid slot (not the host's pid).
    left = [d for d in glob.glob("/sys/fs/cgroup/*/**/llmrepl-sbx-*", recursive=True)
            if sleeper in cgroup_procs(d)]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.time() + 5
    while processes_matching("sleep " + marker) and time.time() < deadline:
        time.sleep(0.05)
    assert processes_matching("sleep " + marker) == []
    r = run("pass")
    assert r["end"] == "exited"
    if "cgroup" in r["isolation"]:
        assert left, "the killed run had no cgroup"
        assert [d for d in left if os.path.exists(d) and cgroup_procs(d)] == []
