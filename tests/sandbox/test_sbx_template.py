"""The mount template: as root, cold runs copy a template of the sandbox's root
instead of building it (sandbox/sbx_mount.c); in a scope that keeps nothing
between processes (a slot directory of its own) a process's first cold run
still builds its root itself. Several FILEs to one llmrepl-sandbox process (no
--pool) are several cold runs in one process, so here the first builds its root
and the later ones go through the template. What a run sees and may do must be
the same either way, and nothing a run does may reach the template or the next
run. (Templates shared between processes: test_sbx_kept.py.)"""
import os
import re
import time

import pytest

from sbxkit import cli, flags

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the template is made as root")

VIEW = """import os
print(open('/proc/self/mountinfo').read())
def walk(top):
    out = []
    for d, subdirs, files in os.walk(top):
        subdirs.sort()
        for n in sorted(subdirs + files):
            p = os.path.join(d, n)
            st = os.lstat(p)
            out.append('%s %o %d %d' % (p, st.st_mode, st.st_uid, st.st_size))
    return out
for top in ['/etc', '/dev', '/work', '/tmp']:
    print(top, walk(top))
print(sorted(os.listdir('/')))
print(open('/etc/passwd').read(), os.getuid())
"""

# Tries to leave something behind: in the shared root, its /etc and /dev
# (read-only in every copy), and in /work and /tmp (the run's own). Mounting
# is the seccomp filter's to refuse (test_sbx_hostile.py).
MEDDLE = """import os
for p in ['/x', '/etc/x', '/etc/passwd', '/dev/x', '/dev/null.bak', '/sandbox/x', '/usr/x']:
    try:
        open(p, 'a').write('x')
        print('WROTE', p)
    except OSError:
        pass
for f in (lambda: os.utime('/dev/null'), lambda: os.chmod('/dev/null', 0o600),
          lambda: os.mkdir('/proc/x'), lambda: os.symlink('/work', '/w'),
          lambda: os.rename('/etc/passwd', '/etc/p')):
    try:
        f()
        print('CHANGED')
    except OSError:
        pass
open('/work/left', 'w').write('x')
open('/tmp/left', 'w').write('x')
os.mkdir('/work/dir')
print('done')
"""


def scrub(mountinfo):
    """A mountinfo without what differs between any two mount namespaces:
    mount ids and device numbers."""
    return [re.sub(r"^\d+ \d+ \d+:\d+ ", "", line)
            for line in mountinfo.splitlines() if line.strip()]


def test_runs_from_the_template_see_and_may_do_what_the_first_run_does(tmp_path):
    view = tmp_path / "view.py"
    view.write_text(VIEW)
    meddle = tmp_path / "meddle.py"
    meddle.write_text(MEDDLE)
    slots = tmp_path / "slots"
    slots.mkdir()
    env = dict(os.environ, LLMREPL_SBX_TRACE="1", LLMREPL_SANDBOX_SLOT_DIR=str(slots))
    began = time.monotonic()
    proc, results = cli(flags(), [str(view), str(meddle), str(view), str(meddle), str(view)],
                        env=env)
    took = time.monotonic() - began
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(results) == 5, proc.stderr.decode()
    traces = [line for line in proc.stderr.decode().splitlines()
              if line.startswith("sbx-trace cold")]
    assert len(traces) == 5, proc.stderr.decode()
    # The first run built its root; the second built the template, and every
    # later one copied it.
    assert "c.template=" not in traces[0]
    assert all("c.template=" in t for t in traces[1:]), traces
    assert "h.tbuild=" in traces[1], traces
    if took < 9:
        # Not built again within its ten seconds.
        assert all("h.template=" in t for t in traces[2:]), traces
    for r in results:
        assert r["end"] == "exited" and r["exit_code"] == 0, r
        assert "seccomp" in r["isolation"] and "mntns" in r["isolation"], r
    for r in results[1::2]:
        assert r["stdout"] == "done\n", r
    first, later = results[0]["stdout"], [results[2]["stdout"], results[4]["stdout"]]
    mounts = scrub(first.split("\n\n", 1)[0])
    assert [m.split()[1] for m in mounts] == ["/", "/usr", "/sandbox", "/dev", "/etc",
                                              "/work", "/tmp", "/proc"], mounts
    for out in later:
        # The same mounts with the same options, the same files (none left
        # by the run before), the same passwd.
        assert scrub(out.split("\n\n", 1)[0]) == mounts, (out, first)
        assert out.split("\n\n", 1)[1] == first.split("\n\n", 1)[1], (out, first)
    assert "/work ['/work/main.py " in first and "/tmp []" in first, first
