"""Every limit, cold and through the pool: each run ends with the right reason."""
import uuid

import pytest

from sbxkit import answer_error, processes_matching

pytest_plugins = ["sbxfixtures"]


def test_wall_clock_timeout(run, mode):
    r = run("while True:\n    pass\n", pool=mode, timeout=0.5)
    assert r["end"] == "timeout" and r["signal"] == 9
    assert r["wall_s"] >= 0.5  # not before the deadline (the loop never ends by itself)
    assert r["cli_status"] == 1


def test_cpu_limit(run, mode):
    r = run("while True:\n    pass\n", pool=mode, cpu=1, timeout=20)
    assert r["end"] == "timeout", r
    assert r["signal"] == 24  # SIGXCPU at the soft limit (the wall clock allows 20 s)
    assert 0.5 <= r["cpu_s"] < 3  # rusage is sampled; the kill came at the limit


def test_cpu_limit_when_sigxcpu_is_ignored(run, mode):
    code = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass\n"
    r = run(code, pool=mode, cpu=1, timeout=20)
    assert r["end"] == "timeout" and r["signal"] == 9, r  # SIGKILL at the hard limit
    assert 1.2 <= r["cpu_s"] < 4


def test_signal_ignoring_loop(run, mode):
    code = ("import signal, time\n"
            "for s in range(1, 65):\n"
            "    try:\n"
            "        signal.signal(s, signal.SIG_IGN)\n"
            "    except (OSError, ValueError, RuntimeError):\n"
            "        pass\n"
            "print('ignoring', flush=True)\n"
            "while True:\n"
            "    time.sleep(0.01)\n")
    r = run(code, pool=mode, timeout=0.7)
    assert r["end"] == "timeout" and r["signal"] == 9 and r["stdout"] == "ignoring\n"


def test_memory_bomb(run, mode):
    r = run("x = bytearray(4 << 30)\n", pool=mode, memory=128)
    assert r["end"] == "memory" and r["exit_code"] == 1
    assert answer_error(r) == "MemoryError"
    assert r["answer"]["end"] == "memory"


def test_slow_memory_creep(run, mode):
    code = ("import time\n"
            "hold = []\n"
            "while True:\n"
            "    hold.append(bytearray(4 << 20))\n"
            "    time.sleep(0.002)\n")
    r = run(code, pool=mode, memory=96, timeout=20)
    assert r["end"] == "memory", r
    if not mode:
        # The address-space limit stops it: what it touched stays below it.
        assert r["peak_kb"] < (96 + 48) * 1024


def test_memory_of_the_whole_tree_is_capped_by_the_cgroup(run, mode):
    # Each process stays under its address-space limit; together they would
    # pass the run's cgroup limit, which is --memory for the whole run. A
    # child killed for memory makes the run's end "memory".
    code = ("import os, time\n"
            "kids = []\n"
            "for i in range(4):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        b = bytearray(100 << 20)\n"
            "        for j in range(0, len(b), 4096):\n"
            "            b[j] = 1\n"
            "        time.sleep(3)\n"
            "        os._exit(0)\n"
            "    kids.append(pid)\n"
            "print(sorted(os.waitstatus_to_exitcode(os.waitpid(k, 0)[1]) for k in kids))\n")
    r = run(code, pool=mode, memory=128, file_size=4, timeout=20)
    if "cgroup" not in r["isolation"]:
        pytest.skip("no cgroup here: " + r["detail"])
    assert r["end"] == "memory" and r["oom_kills"] >= 1, r
    statuses = eval(r["stdout"])  # a list of ints printed by the code above
    assert -9 in statuses  # the kernel's OOM killer took at least one
    assert 0 < r["cg_peak_kb"] <= 128 * 1024


def test_fork_bomb_is_held_and_leaves_nothing(run, mode):
    marker = "1000.%d" % (uuid.uuid4().int % 10**9)
    code = ("import os\n"
            "n = 0\n"
            "while True:\n"
            "    try:\n"
            "        pid = os.fork()\n"
            "    except OSError:\n"
            "        break\n"
            "    if pid == 0:\n"
            "        os.execv('/usr/bin/sleep', ['sleep', '%s'])\n"
            "    n += 1\n"
            "print(n)\n" % marker)
    r = run(code, pool=mode, procs=10)
    assert r["end"] == "exited", r
    assert 1 <= int(r["stdout"]) <= 9
    assert processes_matching(marker) == []


def test_tight_fork_bomb_times_out_and_leaves_nothing(run, mode):
    code = ("import os\n"
            "while True:\n"
            "    try:\n"
            "        os.fork()\n"
            "    except OSError:\n"
            "        pass\n")
    r = run(code, pool=mode, procs=16, timeout=1)
    assert r["end"] == "timeout", r


def test_thread_bomb(run, mode):
    code = ("import threading, time\n"
            "n = 0\n"
            "try:\n"
            "    while True:\n"
            "        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
            "        n += 1\n"
            "except RuntimeError:\n"
            "    pass\n"
            "print(n)\n")
    r = run(code, pool=mode, procs=12)
    assert r["end"] == "exited", r
    assert 1 <= int(r["stdout"]) <= 11


def test_file_size_limit(run, mode):
    r = run("open('big', 'wb').write(b'x' * (2 << 20))\n", pool=mode, file_size=1)
    assert r["end"] == "exited" and r["exit_code"] == 1
    assert "File too large" in r["stderr"]


def test_disk_fill(run, mode):
    code = ("import errno\n"
            "for d in ('/work', '/tmp'):\n"
            "    total = 0\n"
            "    try:\n"
            "        for i in range(1000):\n"
            "            with open('%s/f%d' % (d, i), 'wb') as f:\n"
            "                for _ in range(4):\n"
            "                    f.write(b'x' * (256 << 10))\n"
            "                    total += 256 << 10\n"
            "    except OSError as e:\n"
            "        print(d, e.errno == errno.ENOSPC, total)\n")
    r = run(code, pool=mode, file_size=4)
    assert r["end"] == "exited", r
    lines = [line.split() for line in r["stdout"].splitlines()]
    assert [line[:2] for line in lines] == [["/work", "True"], ["/tmp", "True"]]
    # Each holds a MB more than the largest file; a pool's were sized when it
    # started, with the default limits (16 MB files).
    room = (16 + 1) << 20 if mode else (4 + 1) << 20
    for line in lines:
        assert int(line[2]) <= room


def test_open_files_limit(run, mode):
    code = ("fs = []\n"
            "try:\n"
            "    while True:\n"
            "        fs.append(open('/dev/null'))\n"
            "except OSError as e:\n"
            "    print(e.errno, len(fs))\n")
    r = run(code, pool=mode, files=32)
    assert r["end"] == "exited", r
    err, n = r["stdout"].split()
    assert err == "24" and 16 <= int(n) < 32  # EMFILE


@pytest.mark.parametrize("code,stream", [
    ("while True:\n    print('line of output')\n", "stdout"),
    ("import sys\nwhile True:\n    sys.stdout.write('x' * 4096)\n", "stdout"),  # one endless line
    ("import sys\nwhile True:\n    sys.stderr.write('e' * 100 + '\\n')\n", "stderr"),
])
def test_output_limit(run, mode, code, stream):
    r = run(code, pool=mode, output_max=10000, timeout=10)
    assert r["end"] == "output" and r["signal"] == 9
    assert r[stream + "_truncated"] is True
    text = r[stream]
    assert text.endswith("\n[llmrepl: output truncated]\n")
    assert len(text) == 10000 + len("\n[llmrepl: output truncated]\n")


def test_output_just_under_the_limit_is_kept_whole(run, mode):
    r = run("print('y' * 9998)\n", pool=mode, output_max=10000)
    assert r["end"] == "exited" and r["stdout"] == "y" * 9998 + "\n"
    assert r["stdout_truncated"] is False
