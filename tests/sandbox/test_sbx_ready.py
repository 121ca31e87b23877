"""Cold runs of one process reuse a ready uid slot: its cgroup and (as root)
its network namespace. Nothing of one run is left for the next: a socket
bound in the first (abstract, in the network namespace) is gone in the
second, a process it left behind is gone, and each run's memory and OOM
figures are its own."""
import json
import os

import pytest

from sbxkit import cli, flags

FIRST = ("import os, socket, subprocess\n"
         "s = socket.socket(socket.AF_UNIX)\n"
         "s.bind('\\0llmrepl-ready-probe')\n"
         "s.listen(1)\n"
         "subprocess.Popen(['/usr/bin/sleep', '30'])\n"
         "print(os.getuid(), os.stat('/proc/self/ns/net').st_ino)\n")
SECOND = ("import os, socket\n"
          "c = socket.socket(socket.AF_UNIX)\n"
          "try:\n"
          "    c.connect('\\0llmrepl-ready-probe')\n"
          "    print('connected')\n"
          "except OSError as e:\n"
          "    print(type(e).__name__)\n"
          "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
          "print(os.getuid(), os.stat('/proc/self/ns/net').st_ino)\n")
BIG = "b = bytearray(60 << 20)\nb[::4096] = b'x' * len(b[::4096])\n"


def test_nothing_of_a_run_is_left_for_the_next_on_a_ready_slot(tmp_path):
    files = []
    for name, code in (("a.py", FIRST), ("b.py", SECOND), ("c.py", SECOND)):
        (tmp_path / name).write_text(code)
        files.append(str(tmp_path / name))
    proc, results = cli(flags(), files=files)
    assert [r["end"] for r in results] == ["exited"] * 3, results
    for r in results[1:]:
        lines = r["stdout"].splitlines()
        assert lines[0] == "ConnectionRefusedError", r
        assert len(json.loads(lines[1])) == 1, r  # this process only (the init is hidden)
    if os.geteuid() == 0 and "uid" in results[0]["isolation"]:
        # The slot was kept: the same uid, and from the second run on the
        # same (empty) network namespace.
        ids = [r["stdout"].splitlines()[-1].split() for r in results]
        assert ids[0][0] == ids[1][0] == ids[2][0], ids
        assert ids[1][1] == ids[2][1], ids


def test_each_run_has_its_own_memory_figures_on_a_ready_slot(tmp_path):
    (tmp_path / "big.py").write_text(BIG)
    (tmp_path / "small.py").write_text("pass\n")
    proc, results = cli(flags(memory=256), files=[str(tmp_path / "big.py"),
                                                  str(tmp_path / "small.py")])
    assert [r["end"] for r in results] == ["exited", "exited"], results
    big, small = results
    if big["cg_peak_kb"] is None or big["cg_peak_kb"] < 0:
        pytest.skip("no cgroup memory figures here")
    assert big["cg_peak_kb"] > 50 << 10, big
    assert small["cg_peak_kb"] < 40 << 10, small
    assert small["oom_kills"] == 0


def test_an_oom_kill_counts_for_its_own_run_only(tmp_path):
    (tmp_path / "oom.py").write_text(
        "import os\n"
        "if os.fork() == 0:\n"
        "    b = bytearray(400 << 20)\n"
        "    os._exit(0)\n"
        "os.wait()\n")
    (tmp_path / "ok.py").write_text("print('ok')\n")
    proc, results = cli(flags(memory=64), files=[str(tmp_path / "oom.py"),
                                                 str(tmp_path / "ok.py")])
    first, second = results
    assert second["end"] == "exited" and second["stdout"] == "ok\n", second
    assert second["oom_kills"] == 0, second
