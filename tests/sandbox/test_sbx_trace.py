"""LLMREPL_SBX_TRACE=1: one line of phase times per run on stderr, for a cold
run and a pooled one, and nothing of the trace within the code's reach."""
import ast
import os

import pytest

from sbxkit import cli, flags

# The code lists its open fds: the trace's channel (fd 11 in a cold run, a
# socket above 63 in a pooled one) must not be among them.
PROBE = ("import os\n"
         "print(sorted(int(f) for f in os.listdir('/proc/self/fd')))\n")


@pytest.mark.parametrize("pool", [False, True], ids=["cold", "pool"])
def test_trace_line_per_run_and_no_channel_for_the_code(tmp_path, pool):
    code = tmp_path / "probe.py"
    code.write_text(PROBE)
    env = dict(os.environ, LLMREPL_SBX_TRACE="1")
    proc, results = cli(flags(pool=pool), files=[str(code), str(code)], env=env)
    assert proc.returncode == 0, proc.stderr
    assert [r["end"] for r in results] == ["exited", "exited"]
    for r in results:
        fds = ast.literal_eval(r["stdout"])
        # 0-3 and listdir's own (the request's fd 4 is closed by then).
        assert max(fds) <= 5 and 11 not in fds, fds
    lines = [ln.split() for ln in proc.stderr.decode().splitlines()
             if ln.startswith("sbx-trace ")]
    assert len(lines) == 2
    for words in lines:
        assert words[1] == ("pool" if pool else "cold")
        names = [w.partition("=")[0] for w in words[2:]]
        assert names[0] == "total"
        want = ["h.send", "py.recv", "py.request", "s.reaped"] if pool else \
            ["h.clone", "c.mounts", "c.seccomp", "c.exec", "py.start", "py.request",
             "c.reaped"]
        assert set(want) <= set(names), names
        assert all(int(w.partition("=")[2]) >= 0 for w in words[2:] if "after." not in w)


def test_no_trace_without_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LLMREPL_SBX_TRACE"}
    proc, results = cli(flags() + ["-c", "pass"], env=env)
    assert results[0]["end"] == "exited"
    assert b"sbx-trace" not in proc.stderr
