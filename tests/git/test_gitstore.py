"""The git history store against a real redis-server, checked with the real git CLI.

The C API is driven through build/tests/drivers/gitstore_cli (see its header);
every history is verified from the outside: the objects in Redis must hash to
their ids, and exports must pass `git fsck --strict`.
"""
import hashlib
import signal
import subprocess
import time

import pytest

from conftest import binary

JOB = "1700000000000-0"


def cli(server, *args, attempt=1, job=JOB, opts=(), check=True):
    cmd = [binary("tests/drivers/gitstore_cli"), "-p", str(server.port), *opts,
           job, str(attempt), *map(str, args)]
    out = subprocess.run(cmd, capture_output=True, timeout=60)
    if check and out.returncode != 0:
        raise AssertionError(f"{cmd} failed: {out.stderr.decode(errors='replace')}")
    return out


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True, timeout=60).stdout


def set_attempt(server, n, job=JOB, prefix="llmrepl:"):
    """The job as the job protocol has it while attempt n runs."""
    server.cli("HSET", f"{prefix}job:{job}", "state", "running", "attempt", str(n))


def write_files(d, code, tests="def test_f():\n    assert f() == 1\n", report='{"passed": 1}\n'):
    d.mkdir(parents=True, exist_ok=True)
    (d / "solution.py").write_text(code)
    (d / "test_solution.py").write_text(tests)
    (d / "report.json").write_text(report)
    return [f"solution.py={d / 'solution.py'}", f"test_solution.py={d / 'test_solution.py'}",
            f"report.json={d / 'report.json'}"]


def commit(server, tmp_path, it, summary, code, attempt=1, opts=(), check=True):
    files = write_files(tmp_path / f"in{it}-{attempt}", code)
    out = cli(server, "commit", it, summary, *files, attempt=attempt, opts=opts, check=check)
    return out


def parse_commit(out):
    status, oid = out.stdout.decode().split()
    assert len(oid) == 40
    return status, oid


def export(server, tmp_path, name="export", job=JOB):
    dst = tmp_path / name
    cli(server, "export", dst, attempt=0, job=job)
    git(dst, "fsck", "--strict", "--no-dangling")
    return dst


def redis_objects(server, job=JOB):
    r = redis_bytes(server)
    return r.hgetall(f"llmrepl:job:{job}:git:objects")


def redis_bytes(server):
    import redis
    return redis.Redis(host="127.0.0.1", port=server.port, decode_responses=False)


def log_entries(repo):
    """(oid, parents, subject, body) of each commit on main, newest first."""
    out = git(repo, "log", "--format=%H%x00%P%x00%s%x00%b%x01", "main")
    entries = []
    for rec in out.split("\x01"):
        rec = rec.strip("\n")
        if rec:
            oid, parents, subject, body = rec.split("\x00")
            entries.append((oid, parents.split(), subject, body))
    return entries


def trailer(body, key):
    vals = [line.split(": ", 1)[1] for line in body.splitlines() if line.startswith(key + ": ")]
    return int(vals[-1])


def test_commits_trees_parents_and_export(redis_server, tmp_path):
    set_attempt(redis_server, 1)
    oids = []
    for it in (1, 2, 3):
        status, oid = parse_commit(commit(redis_server, tmp_path, it, f"{it}/3 tests passed\n"
                                          f"failing: test_{it}", f"def f():\n    return {it}\n"))
        assert status == "committed"
        oids.append(oid)

    # Every stored object hashes to its field: it is git's object form.
    objs = redis_objects(redis_server)
    assert len(objs) >= 3 * 3  # commits, trees, solution blobs at least
    for field, value in objs.items():
        assert hashlib.sha1(value).hexdigest() == field.decode()
    refs = redis_server.client().hgetall(f"llmrepl:job:{JOB}:git:refs")
    assert refs == {"HEAD": "ref: refs/heads/main", "refs/heads/main": oids[-1]}

    dst = export(redis_server, tmp_path)
    entries = log_entries(dst)
    assert [e[0] for e in entries] == oids[::-1]
    # A linear chain: each commit's parent is the previous iteration.
    assert entries[-1][1] == []
    for newer, older in zip(entries, entries[1:]):
        assert newer[1] == [older[0]]
    for (oid, _, subject, body), it in zip(entries, (3, 2, 1)):
        assert subject == f"{it}/3 tests passed"
        assert f"failing: test_{it}" in body
        assert trailer(body, "Iteration") == it
        assert trailer(body, "Attempt") == 1
        assert f"Job: {JOB}" in body
        tree = git(dst, "ls-tree", oid).splitlines()
        assert [line.split("\t")[1] for line in tree] == ["report.json", "solution.py",
                                                          "test_solution.py"]
        assert all(line.startswith("100644 blob ") for line in tree)
        assert git(dst, "show", f"{oid}:solution.py") == f"def f():\n    return {it}\n"
    # The head's files are checked out, HEAD is main, and git log works.
    assert (dst / "solution.py").read_text() == "def f():\n    return 3\n"
    assert git(dst, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(dst, "status", "--porcelain") == ""
    assert len(git(dst, "log", "--oneline").splitlines()) == 3

    # The C log reader agrees.
    out = cli(redis_server, "log", attempt=0).stdout.decode().splitlines()
    assert out == [f"{oids[2]} iteration 3: 3/3 tests passed",
                   f"{oids[1]} iteration 2: 2/3 tests passed",
                   f"{oids[0]} iteration 1: 1/3 tests passed"]
    head = cli(redis_server, "head", attempt=0).stdout.decode().split(" ", 4)
    assert head[:4] == [oids[2], "3", "1", "0"]
    found = cli(redis_server, "find", 2, attempt=0).stdout.decode().split(" ", 4)
    assert found[:2] == [oids[1], "2"]


def test_fixed_time_gives_deterministic_commits(redis_server, tmp_path):
    set_attempt(redis_server, 1)
    opts = ("-t", "1700000000")
    _, oid = parse_commit(commit(redis_server, tmp_path, 1, "ok", "x = 1\n", opts=opts))
    dst = export(redis_server, tmp_path)
    assert git(dst, "log", "-1", "--format=%at %ct %an <%ae>").strip() == \
        "1700000000 1700000000 llm-repl <llm-repl@localhost>"
    # The same content at the same time in another job store gives the same
    # tree; the commit differs only by its Job trailer.
    set_attempt(redis_server, 1, job="other")
    files = write_files(tmp_path / "o", "x = 1\n")
    out = cli(redis_server, "commit", 1, "ok", *files, job="other", opts=opts)
    _, oid2 = parse_commit(out)
    dst2 = export(redis_server, tmp_path, "export2", job="other")
    assert git(dst, "rev-parse", f"{oid}^{{tree}}") == git(dst2, "rev-parse", f"{oid2}^{{tree}}")


def test_retried_iteration_is_not_duplicated(redis_server, tmp_path):
    set_attempt(redis_server, 1)
    _, first = parse_commit(commit(redis_server, tmp_path, 1, "one", "a = 1\n"))
    nobj = len(redis_objects(redis_server))
    # The same iteration again, even with other content: the existing commit.
    status, again = parse_commit(commit(redis_server, tmp_path, 1, "one again", "a = 2\n"))
    assert (status, again) == ("existed", first)
    assert len(redis_objects(redis_server)) == nobj
    _, second = parse_commit(commit(redis_server, tmp_path, 2, "two", "a = 3\n"))
    # An older iteration that is in the history: reported, not re-added.
    status, old = parse_commit(commit(redis_server, tmp_path, 1, "late retry", "a = 9\n"))
    assert (status, old) == ("existed", first)
    dst = export(redis_server, tmp_path)
    assert [e[0] for e in log_entries(dst)] == [second, first]


def test_iteration_gap_below_head_is_refused(redis_server, tmp_path):
    set_attempt(redis_server, 1)
    commit(redis_server, tmp_path, 2, "two", "a = 2\n")
    commit(redis_server, tmp_path, 5, "five", "a = 5\n")
    out = commit(redis_server, tmp_path, 3, "three", "a = 3\n", check=False)
    assert out.returncode == 1
    assert b"error invalid: " in out.stderr and b"iteration 3 is below" in out.stderr


def test_stale_attempt_cannot_move_refs(redis_server, tmp_path):
    set_attempt(redis_server, 1)
    _, one = parse_commit(commit(redis_server, tmp_path, 1, "one", "a = 1\n"))
    redis_server.cli("HINCRBY", f"llmrepl:job:{JOB}", "attempt", "1")
    before_refs = redis_server.client().hgetall(f"llmrepl:job:{JOB}:git:refs")
    before_objs = redis_objects(redis_server)

    out = commit(redis_server, tmp_path, 2, "stale two", "a = 2\n", attempt=1, check=False)
    assert out.returncode == 1
    assert b"error stale: job " + JOB.encode() + b": attempt 1 may no longer write " \
        b"(the job is running at attempt 2)" in out.stderr
    out = cli(redis_server, "tag", "-", attempt=1, check=False)
    assert out.returncode == 1 and b"error stale" in out.stderr
    # Even an iteration that is already there: the stale writer is told so.
    out = commit(redis_server, tmp_path, 1, "one", "a = 1\n", attempt=1, check=False)
    assert out.returncode == 1 and b"error stale" in out.stderr
    # Nothing was written: neither the ref nor a single object.
    assert redis_server.client().hgetall(f"llmrepl:job:{JOB}:git:refs") == before_refs
    assert redis_objects(redis_server) == before_objs

    # The current attempt continues the same history.
    status, two = parse_commit(commit(redis_server, tmp_path, 2, "two", "a = 2\n", attempt=2))
    assert status == "committed"
    entries = log_entries(export(redis_server, tmp_path))
    assert [(e[0], trailer(e[3], "Attempt")) for e in entries] == [(two, 2), (one, 1)]
    assert entries[0][1] == [one]


def test_job_not_running_refuses_writes(redis_server, tmp_path):
    out = commit(redis_server, tmp_path, 1, "one", "a = 1\n", check=False)
    assert out.returncode == 1 and b"may no longer write (no such job)" in out.stderr
    assert redis_server.cli("EXISTS", f"llmrepl:job:{JOB}:git:refs").strip() == "0"
    # A stalled worker whose job went back to waiting for a retry keeps its
    # attempt number until the job is claimed again: still refused.
    set_attempt(redis_server, 1)
    commit(redis_server, tmp_path, 1, "one", "a = 1\n")
    redis_server.cli("HSET", f"llmrepl:job:{JOB}", "state", "retry_wait")
    out = commit(redis_server, tmp_path, 2, "two", "a = 2\n", check=False)
    assert out.returncode == 1
    assert b"(the job is retry_wait at attempt 1)" in out.stderr
    redis_server.cli("HSET", f"llmrepl:job:{JOB}", "state", "cancelled")
    out = cli(redis_server, "tag", "-", check=False)
    assert out.returncode == 1 and b"(the job is cancelled at attempt 1)" in out.stderr
    assert redis_server.cli("HGET", "llmrepl:stats", "total:stale_writes").strip() == "3"
    assert len(cli(redis_server, "log", attempt=0).stdout.splitlines()) == 1
    out = commit(redis_server, tmp_path, 1, "one", "a = 1\n", attempt=0, check=False)
    assert out.returncode == 1 and b"opened read-only" in out.stderr


def test_reclaimed_attempt_resumes_the_history(redis_server, tmp_path):
    set_attempt(redis_server, 1)
    out = cli(redis_server, "run", 1, 3).stdout.decode().splitlines()
    assert [line.split()[:2] for line in out] == [["committed", "1"], ["committed", "2"],
                                                  ["committed", "3"]]
    set_attempt(redis_server, 2)
    out = cli(redis_server, "run", 1, 5, attempt=2).stdout.decode().splitlines()
    # It read the last committed iteration (number and files) and went on from it.
    assert out[0] == "resumed 3 def f():"
    assert out[1] == "    return 3"
    assert [line.split()[:2] for line in out[2:]] == [["committed", "4"], ["committed", "5"]]
    entries = log_entries(export(redis_server, tmp_path))
    assert [(trailer(e[3], "Iteration"), trailer(e[3], "Attempt")) for e in entries] == \
        [(5, 2), (4, 2), (3, 1), (2, 1), (1, 1)]


def test_killed_worker_resumed_one_history(redis_server, tmp_path):
    """A worker killed mid-loop; the reclaimed attempt finishes: one linear
    history, every iteration exactly once, no ref to a missing object."""
    set_attempt(redis_server, 1)
    cmd = [binary("tests/drivers/gitstore_cli"), "-p", str(redis_server.port), JOB, "1",
           "run", "1", "30", "100"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            head = redis_server.cli("HGET", f"llmrepl:job:{JOB}:git:refs", "refs/heads/main")
            if head.strip():
                n = cli(redis_server, "head", attempt=0).stdout.split()[1]
                if int(n) >= 4:
                    break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    redis_server.cli("HINCRBY", f"llmrepl:job:{JOB}", "attempt", "1")
    out = cli(redis_server, "run", 1, 30, attempt=2).stdout.decode().splitlines()
    resumed_at = int(out[0].split()[1])
    assert 4 <= resumed_at < 30
    dst = export(redis_server, tmp_path)
    entries = log_entries(dst)
    its = [trailer(e[3], "Iteration") for e in entries]
    assert its == list(range(30, 0, -1))
    assert {trailer(e[3], "Attempt") for e in entries[:30 - resumed_at]} == {2}
    assert {trailer(e[3], "Attempt") for e in entries[30 - resumed_at:]} == {1}
    for newer, older in zip(entries, entries[1:]):
        assert newer[1] == [older[0]]


def test_concurrent_duplicate_workers(redis_server, tmp_path):
    """Duplicate deliveries racing on the same iterations, plus superseded
    attempts racing with them: one linear history, each iteration once, and
    nothing from the stale attempt."""
    set_attempt(redis_server, 2)
    base = [binary("tests/drivers/gitstore_cli"), "-p", str(redis_server.port), JOB]
    procs = [subprocess.Popen(base + [str(a), "run", "1", "12"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for a in (2, 2, 2, 1, 2, 1)]
    results = [(p.args[4], *p.communicate(timeout=60), p.returncode) for p in procs]
    for attempt, stdout, stderr, rc in results:
        if attempt == "1":
            # Refused, or (when it started after iteration 12) it had nothing to do.
            assert b"committed" not in stdout
            assert (rc == 1 and b"error stale" in stderr) or (rc == 0 and stderr == b"")
        else:
            assert rc == 0, stderr
            assert stdout.decode().splitlines()[-1].split()[1] == "12"
    entries = log_entries(export(redis_server, tmp_path))
    assert [trailer(e[3], "Iteration") for e in entries] == list(range(12, 0, -1))
    assert {trailer(e[3], "Attempt") for e in entries} == {2}
    committed = [line.split()[2] for _, out, _, rc in results if rc == 0
                 for line in out.decode().splitlines() if line.startswith("committed")]
    assert sorted(committed) == sorted(e[0] for e in entries)


def test_accepted_tag(redis_server, tmp_path):
    set_attempt(redis_server, 1)
    _, one = parse_commit(commit(redis_server, tmp_path, 1, "fail", "a = 1\n"))
    _, two = parse_commit(commit(redis_server, tmp_path, 2, "pass", "a = 2\n"))
    out = cli(redis_server, "tag", one, "criteria met at 1").stdout.decode().split()
    assert out[0] == "tagged"
    tag1 = out[1]
    assert cli(redis_server, "tag", one).stdout.decode().split() == ["existed", tag1]
    # Moving it to the head (a later accepted iteration) is a fenced CAS too.
    status, tag2 = cli(redis_server, "tag", "-", "all tests pass").stdout.decode().split()
    assert status == "tagged" and tag2 != tag1
    acc = cli(redis_server, "accepted", attempt=0).stdout.decode().split(" ", 4)
    assert acc[:4] == [two, "2", "1", "1"]
    log = cli(redis_server, "log", attempt=0).stdout.decode().splitlines()
    assert log[0] == f"{two} iteration 2 accepted: pass"
    assert log[1] == f"{one} iteration 1: fail"

    dst = export(redis_server, tmp_path)
    assert git(dst, "cat-file", "-t", "accepted").strip() == "tag"
    assert git(dst, "rev-parse", "accepted^{commit}").strip() == two
    tag = git(dst, "cat-file", "tag", "accepted")
    assert "tag accepted\n" in tag and "tagger llm-repl <llm-repl@localhost>" in tag
    assert "all tests pass" in tag and "Iteration: 2" in tag
    # A tag on something that is not a commit of this history is refused.
    out = cli(redis_server, "tag", "0" * 40, check=False)
    assert out.returncode == 1 and b"error not_found" in out.stderr


def test_push_accepted_to_bare_remote(redis_server, tmp_path):
    remote = tmp_path / "deploy.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    set_attempt(redis_server, 1)
    _, one = parse_commit(commit(redis_server, tmp_path, 1, "fail", "a = 1\n"))

    # No accepted iteration: nothing to deploy.
    out = cli(redis_server, "push", remote, "-", "passed", attempt=0, check=False)
    assert out.returncode == 1 and b"no iteration is accepted" in out.stderr
    cli(redis_server, "tag", one)
    # Criteria not passed: refused, remote untouched.
    out = cli(redis_server, "push", remote, "-", "failed", attempt=0, check=False)
    assert out.returncode == 1 and b"the criteria did not pass" in out.stderr
    assert git(remote, "for-each-ref") == ""

    cli(redis_server, "push", remote, "-", "passed", attempt=0)
    assert git(remote, "rev-parse", "refs/heads/main").strip() == one
    git(remote, "fsck", "--strict")
    # Idempotent, then a fast-forward to a later accepted iteration.
    cli(redis_server, "push", remote, "-", "passed", attempt=0)
    _, two = parse_commit(commit(redis_server, tmp_path, 2, "pass", "a = 2\n"))
    cli(redis_server, "tag", "-")
    cli(redis_server, "push", remote, "refs/heads/main", "passed", attempt=0)
    assert git(remote, "rev-parse", "main").strip() == two
    assert git(remote, "show", "main:solution.py") == "a = 2\n"

    # Another job's history is unrelated: refused without force, replaced with it.
    set_attempt(redis_server, 1, job="j2")
    files = write_files(tmp_path / "j2", "b = 1\n")
    _, other = parse_commit(cli(redis_server, "commit", 1, "other", *files, job="j2"))
    cli(redis_server, "tag", "-", job="j2")
    out = cli(redis_server, "push", remote, "-", "passed", job="j2", attempt=0, check=False)
    assert out.returncode == 1 and b"error stale" in out.stderr and b"fast-forward" in out.stderr
    assert git(remote, "rev-parse", "main").strip() == two
    cli(redis_server, "push", remote, "-", "passed", "force", job="j2", attempt=0)
    assert git(remote, "rev-parse", "main").strip() == other
    # Per-job refs side by side.
    cli(redis_server, "push", remote, "refs/heads/jobs/first", "passed", attempt=0)
    assert git(remote, "rev-parse", "jobs/first").strip() == two
    # An unreachable remote: a precise error that does not repeat credentials.
    out = cli(redis_server, "push", "http://user:secret@127.0.0.1:1/x.git", "-", "passed",
              attempt=0, check=False)
    assert out.returncode == 1 and b"error io: deploying job" in out.stderr
    assert b"secret" not in out.stderr and b"http://***@127.0.0.1:1/x.git" in out.stderr
    out = cli(redis_server, "push", remote, "refs/heads/../x", "passed", attempt=0, check=False)
    assert out.returncode == 1 and b"is not a ref name" in out.stderr
    git(remote, "fsck", "--strict")


def test_export_errors(redis_server, tmp_path):
    out = cli(redis_server, "export", tmp_path / "none", attempt=0, check=False)
    assert out.returncode == 1 and b"error not_found" in out.stderr
    assert not (tmp_path / "none").exists()
    set_attempt(redis_server, 1)
    commit(redis_server, tmp_path, 1, "one", "a = 1\n")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep").write_text("x")
    out = cli(redis_server, "export", busy, attempt=0, check=False)
    assert out.returncode == 1 and b"is not empty" in out.stderr
    assert sorted(p.name for p in busy.iterdir()) == ["keep"]
    empty = tmp_path / "empty"
    empty.mkdir()
    cli(redis_server, "export", empty, attempt=0)
    git(empty, "fsck", "--strict")


def test_input_limits(redis_server, tmp_path):
    set_attempt(redis_server, 1)
    files = write_files(tmp_path / "big", "x" * 2000)
    out = cli(redis_server, "commit", 1, "s", *files, opts=("-m", "1000"), check=False)
    assert out.returncode == 1
    assert b"error too_big: file solution.py is 2000 bytes, the limit is 1000" in out.stderr
    for bad in ("../evil", ".git", "a b", "-x"):
        out = cli(redis_server, "commit", 1, "s", f"{bad}={tmp_path / 'big' / 'report.json'}",
                  check=False)
        assert out.returncode == 1 and b"error invalid: file name" in out.stderr
    f = tmp_path / "big" / "report.json"
    out = cli(redis_server, "commit", 1, "s", f"a={f}", f"a={f}", check=False)
    assert out.returncode == 1 and b"given twice" in out.stderr
    out = cli(redis_server, "commit", 1, "y" * 20000, f"a={f}", check=False)
    assert out.returncode == 1 and b"error too_big: summary is 20000 bytes" in out.stderr
    out = cli(redis_server, "commit", 1, "s", attempt=1, check=False)
    assert out.returncode == 1 and b"no files" in out.stderr
    # Nothing of this reached Redis.
    assert redis_server.cli("EXISTS", f"llmrepl:job:{JOB}:git:objects").strip() == "0"
    out = cli(redis_server, "head", attempt=0, check=False)
    assert out.returncode == 1 and b"error not_found" in out.stderr


def test_damaged_store_is_reported(redis_server, tmp_path):
    set_attempt(redis_server, 1)
    _, oid = parse_commit(commit(redis_server, tmp_path, 1, "one", "a = 1\n"))
    r = redis_bytes(redis_server)
    key = f"llmrepl:job:{JOB}:git:objects"
    # Content that does not hash to its id is refused, not trusted.
    good = r.hget(key, oid)
    r.hset(key, oid, good.replace(b"one", b"two"))
    out = cli(redis_server, "log", attempt=0, check=False)
    assert out.returncode == 1
    assert f"error protocol: ".encode() in out.stderr and b"does not match its id" in out.stderr
    # An oversized value is refused by the server before it is sent.
    r.hset(key, oid, b"x" * (5 << 20))
    out = cli(redis_server, "head", attempt=0, check=False)
    assert out.returncode == 1 and b"error too_big" in out.stderr
    # A ref that is not an object id.
    r.hset(key, oid, good)
    r.hset(f"llmrepl:job:{JOB}:git:refs", "refs/heads/main", "garbage")
    out = cli(redis_server, "head", attempt=0, check=False)
    assert out.returncode == 1 and b"error protocol" in out.stderr and b"garbage" in out.stderr
    # A ref naming a missing commit is damage, not an empty history.
    r.hset(f"llmrepl:job:{JOB}:git:refs", "refs/heads/main", "1" * 40)
    for args in (("run", 1, 2), ("read", "-", tmp_path), ("head",), ("log",)):
        out = cli(redis_server, *args, check=False)
        assert out.returncode == 1 and b"error protocol" in out.stderr, args
        assert b"history damaged" in out.stderr, args
        assert b"resumed" not in out.stdout


def test_key_prefix_and_script_cache_loss(redis_server, tmp_path):
    set_attempt(redis_server, 1, prefix="acme:")
    opts = ("-P", "acme:")
    cmd = [binary("tests/drivers/gitstore_cli"), "-p", str(redis_server.port), *opts, JOB,
           "1", "run", "1", "6", "200"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # The server forgets its scripts mid-run (as after a restart): reloaded.
    deadline = time.time() + 30
    while not redis_server.cli("HGET", f"acme:job:{JOB}:git:refs", "refs/heads/main").strip():
        assert time.time() < deadline
        time.sleep(0.02)
    redis_server.cli("SCRIPT", "FLUSH")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert stdout.decode().splitlines()[-1].split()[:2] == ["committed", "6"]
    keys = set(redis_server.cli("KEYS", "*").split())
    assert keys == {f"acme:job:{JOB}", f"acme:job:{JOB}:git:objects", f"acme:job:{JOB}:git:refs"}
    assert redis_server.cli("EXISTS", "llmrepl:stats").strip() == "0"
    out = cli(redis_server, "log", attempt=0, opts=opts).stdout.decode().splitlines()
    assert len(out) == 6


class ReplyDropper:
    """A TCP proxy in front of redis-server that forwards everything, except
    that on the first connection it swallows the reply to the first fenced
    CAS (the script call carrying "ref: refs/heads/main") and closes the connection:
    the commit lands, the writer never hears of it."""

    def __init__(self, target_port):
        import socket
        import threading
        self.target = target_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.dropped = threading.Event()
        self.conns = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        import threading
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            server = socket.create_connection(("127.0.0.1", self.target))
            state = {"drop": self.conns == 1, "swallow": False}
            threading.Thread(target=self._up, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, state),
                             daemon=True).start()

    def _up(self, client, server, state):
        while True:
            data = client.recv(1 << 20)
            if not data:
                break
            if state["drop"] and b"EVALSHA" in data and b"ref: refs/heads/main" in data:
                state["swallow"] = True
                server.sendall(data)
                time.sleep(0.2)  # let the script run; its reply goes nowhere
                self.dropped.set()
                client.close()
                server.close()
                return
            server.sendall(data)

    def _down(self, server, client, state):
        while True:
            try:
                data = server.recv(1 << 20)
                if not data:
                    break
                if not state["swallow"]:
                    client.sendall(data)
            except OSError:
                break

    def close(self):
        self.sock.close()


def test_lost_reply_then_retry_is_not_duplicated(redis_server, tmp_path):
    set_attempt(redis_server, 1)
    proxy = ReplyDropper(redis_server.port)
    try:
        cmd = [binary("tests/drivers/gitstore_cli"), "-p", str(proxy.port), JOB, "1",
               "run", "1", "3"]
        out = subprocess.run(cmd, capture_output=True, timeout=60)
    finally:
        proxy.close()
    assert out.returncode == 0, out.stderr
    assert proxy.dropped.is_set()
    lines = out.stdout.decode().splitlines()
    # Iteration 1 landed, its reply was lost; the retry over a new connection
    # finds it and reports it instead of committing it again.
    assert lines[0] == "reconnected 1"
    assert lines[1].startswith("existed 1 ")
    assert [line.split()[:2] for line in lines[2:]] == [["committed", "2"], ["committed", "3"]]
    entries = log_entries(export(redis_server, tmp_path))
    assert [trailer(e[3], "Iteration") for e in entries] == [3, 2, 1]
    assert entries[-1][0] == lines[1].split()[2]


def test_refused_commit_retried_in_the_same_store(redis_server, tmp_path):
    """A refused commit leaves objects in the process (libgit2's caches) but
    not in Redis; trying again from the same store must send them all."""
    set_attempt(redis_server, 1)
    commit(redis_server, tmp_path, 1, "one", "a = 1\n")
    redis_server.cli("HSET", f"llmrepl:job:{JOB}", "state", "retry_wait")
    files = write_files(tmp_path / "two", "a = 2\n", tests="new tests\n")
    cmd = [binary("tests/drivers/gitstore_cli"), "-p", str(redis_server.port), "-r", "1", JOB,
           "1", "commit", "2", "two", *files]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert b"error stale" in proc.stderr.readline()
        redis_server.cli("HSET", f"llmrepl:job:{JOB}", "state", "running")
        stdout, stderr = proc.communicate(b"again\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert stdout.split()[0] == b"committed"
    dst = export(redis_server, tmp_path)
    assert git(dst, "show", "main:test_solution.py") == "new tests\n"
    for field, value in redis_objects(redis_server).items():
        assert hashlib.sha1(value).hexdigest() == field.decode()
