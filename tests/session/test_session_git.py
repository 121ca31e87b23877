"""A session's git history: one commit per recorded cell, in the session_open
job's history (read here straight from its Redis hashes, and with the client
and real git)."""
import json
import subprocess
import sys
from pathlib import Path

from conftest import binary

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loop"))
from looptools import GitHistory  # noqa: E402


def open_session(system, **fields):
    h = system.wait(system.submit({"kind": "session_open", **fields}))
    assert h["state"] == "done" and h["passed"] == "1", h
    return h["session"]


def cell(system, sid, code):
    jid = system.submit({"kind": "exec", "session": sid, "code": code})
    h = system.wait(jid)
    assert h["state"] == "done", h
    h["_id"] = jid
    return h


def committed(system, h):
    """The cell's commit: made right after its answer (the job is done first,
    then the worker commits the cell and sets the job's `commit`)."""
    return system.wait_for(lambda: system.job(h["_id"]).get("commit"),
                           what=f"the commit of job {h['_id']}")


def test_one_commit_per_recorded_cell(system, tmp_path):
    system.dispatcher()
    system.worker()
    sid = open_session(system, limits={"timeout_s": 1})
    jobs = [cell(system, sid, "x = 41\nprint('hi')"), cell(system, sid, "x + 1"),
            cell(system, sid, "1 / 0")]
    stopped = cell(system, sid, "while True: pass")  # not part of the session: no commit
    assert stopped["passed"] == "0" and "commit" not in stopped, stopped
    oids = [committed(system, j) for j in jobs]
    g = GitHistory(system.raw, "llmrepl:", sid)
    hist = g.history()
    assert [c["iteration"] for c in hist] == [0, 1, 2]
    assert [c["oid"] for c in hist] == oids
    assert hist[1]["subject"] == "cell 2: 42"
    assert hist[2]["subject"].startswith("cell 3: ZeroDivisionError")
    f = g.files(hist[1]["oid"])
    assert f["cell.py"] == b"x + 1"
    assert f["session.py"] == b"# cell 1\nx = 41\nprint('hi')\n\n# cell 2\nx + 1\n"
    rep = json.loads(f["report.json"])
    assert rep["value"] == "42" and rep["cell"] == 2, rep
    assert json.loads(g.files(hist[0]["oid"])["report.json"])["stdout"] == "hi\n"
    # The history expires with the session's open job, never before the session.
    for k in ("git:objects", "git:refs"):
        assert system.r.pttl(system.key("job", sid, k)) > 0
    # Read as any job's history: the client, and an export real git accepts.
    p = subprocess.run([binary("llmrepl"), "log", sid], capture_output=True, text=True,
                       env=system.env(), timeout=60)
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 3, (p.stdout, p.stderr)
    dst = tmp_path / "repo"
    p = subprocess.run([binary("llmrepl"), "export", sid, str(dst)], capture_output=True,
                       text=True, env=system.env(), timeout=60)
    assert p.returncode == 0, p.stderr
    assert (dst / "cell.py").read_text() == "1 / 0"
    subprocess.run(["git", "-C", str(dst), "fsck", "--strict"], check=True,
                   capture_output=True)


def test_a_cell_recorded_but_not_committed_is_committed_by_the_next(system):
    """The record is the truth: a cell recorded while its worker died before
    committing is committed (without its output) by the next cell."""
    system.dispatcher()
    system.worker()
    sid = open_session(system)
    assert committed(system, cell(system, sid, "a = 1"))
    # A cell recorded by hand, as a worker that died after recording leaves it.
    system.r.rpush(system.key("session", sid, "cells"), "b = 2")
    system.r.hset(system.key("session", sid), "cells", 2)
    h = cell(system, sid, "a + b")
    assert h["value"] == "3" and h["cell"] == "3", h
    oid = committed(system, h)
    g = GitHistory(system.raw, "llmrepl:", sid)
    hist = g.history()
    assert [c["iteration"] for c in hist] == [0, 1, 2]
    f = g.files(hist[1]["oid"])
    assert f["cell.py"] == b"b = 2" and json.loads(f["report.json"])["backfilled"] is True
    assert hist[2]["oid"] == oid
