"""Helpers for the feedback-loop suites: a running system (redis-server,
dispatcher, workers) pointed at a model server, `loop` jobs submitted with
redis-cli, and an independent reader of a job's git history straight from
its Redis hashes (so the suites check what the store wrote, not what the
store's own reader says)."""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from conftest import binary  # noqa: E402
from jobsys import System, wait_until  # noqa: E402,F401 (wait_until: the suites import it here)

# Programs the scripted model answers with.
ADD_TESTS = "assert add(1, 2) == 3\nassert add(0, 0) == 0\nassert add(-1, 5) == 4\n" \
            "assert add(2, 2) == 4\n"
ADD_TASK = "Write a Python function add(a, b) that returns the sum of a and b."


def fenced(code):
    return "Here you go:\n\n```python\n" + code + "```\n"


ADD_OK = "def add(a, b):\n    return a + b\n"
ADD_SUB = "def add(a, b):\n    return a - b\n"          # 2/4 tests: (0,0) and... see below
ADD_SUB2 = "def add(a, b):\n    d = a - b\n    return d\n"  # the same failure as ADD_SUB
ADD_MUL = "def add(a, b):\n    return a * b\n"
ADD_ZERO = "def add(a, b):\n    return 0\n"
ADD_DOUBLE = "def add(a, b):\n    return a * 2\n"
REPAIR = "This attempt is wrong"        # in every repair prompt
REFACTOR = "Improve this Python code"   # in every refactor prompt


def rules(*pairs, default=None):
    """Reply rules for fake_llm --replies: (match, [replies] or reply[, delay])."""
    out = []
    for p in pairs:
        match, replies = p[0], p[1]
        r = {"match": match, "replies": replies if isinstance(replies, list) else [replies]}
        if len(p) > 2:
            r["delay"] = p[2]
        out.append(r)
    if default is not None:
        out.append({"replies": default if isinstance(default, list) else [default]})
    return out


class LoopSystem(System):
    """The job system with loop-aware helpers."""

    def loop_worker(self, model_url, model, **settings):
        base = {"llm-url": model_url, "model": model, "llm-stream": "false"}
        base.update(settings)
        return self.worker(**base)

    def submit_loop(self, **spec):
        return self.submit({"kind": "loop", **spec})

    def result(self, jid):
        return json.loads(self.job(jid)["result"])

    def iteration(self, jid, n):
        return self.r.hgetall(self.key("job", jid, f"it:{n}"))

    def iterations(self, jid):
        h = self.job(jid)
        return [self.iteration(jid, n) for n in range(int(h.get("iterations", -1)) + 1)]

    def git(self, jid):
        return GitHistory(self.raw, self.prefix, jid)

    def cli(self, *args, check=True, timeout=60):
        env = self.env()
        p = subprocess.run([binary("llmrepl"), *args], capture_output=True, text=True,
                           env=env, timeout=timeout)
        if check:
            assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
        return p


class GitHistory:
    """A job's git objects and refs, read from Redis and parsed here."""

    def __init__(self, raw, prefix, jid):
        self.objects = {k.decode(): v for k, v in
                        raw.hgetall(f"{prefix}job:{jid}:git:objects").items()}
        self.refs = {k.decode(): v.decode() for k, v in
                     raw.hgetall(f"{prefix}job:{jid}:git:refs").items()}

    def obj(self, oid):
        raw = self.objects[oid]
        assert hashlib.sha1(raw).hexdigest() == oid, f"object {oid} does not hash to its id"
        header, body = raw.split(b"\0", 1)
        kind, size = header.split(b" ")
        assert int(size) == len(body)
        return kind.decode(), body

    def commit(self, oid):
        kind, body = self.obj(oid)
        assert kind == "commit"
        head, msg = body.split(b"\n\n", 1)
        fields = {}
        parents = []
        for line in head.decode().splitlines():
            k, v = line.split(" ", 1)
            if k == "parent":
                parents.append(v)
            fields[k] = v
        trailers = dict(line.split(": ", 1) for line in msg.decode().splitlines()
                        if ": " in line and line.split(": ", 1)[0] in
                        ("Iteration", "Attempt", "Job"))
        return {"oid": oid, "tree": fields["tree"], "parents": parents,
                "message": msg.decode(), "subject": msg.decode().splitlines()[0],
                "iteration": int(trailers["Iteration"]), "attempt": int(trailers["Attempt"]),
                "job": trailers.get("Job")}

    def tree(self, oid):
        kind, body = self.obj(oid)
        assert kind == "tree"
        files = {}
        while body:
            sp = body.index(b" ")
            nul = body.index(b"\0", sp)
            name = body[sp + 1:nul].decode()
            sha = body[nul + 1:nul + 21].hex()
            body = body[nul + 21:]
            k, content = self.obj(sha)
            assert k == "blob"
            files[name] = content
        return files

    def history(self):
        """Commits of refs/heads/main, oldest first."""
        out = []
        oid = self.refs.get("refs/heads/main")
        while oid:
            c = self.commit(oid)
            out.append(c)
            oid = c["parents"][0] if c["parents"] else None
        return out[::-1]

    def files(self, commit):
        return self.tree(self.commit(commit)["tree"])

    def accepted(self):
        """The commit the `accepted` tag names, or None."""
        tag = self.refs.get("refs/tags/accepted")
        if tag is None:
            return None
        kind, body = self.obj(tag)
        assert kind == "tag"
        return body.split(b"\n", 1)[0].split(b" ")[1].decode()

    def commit_objects(self):
        return [oid for oid in self.objects if self.obj(oid)[0] == "commit"]


def model_loop_system(redis_server, tmp_path, llama_server):
    """A LoopSystem with a dispatcher and one loop worker on the bundled real
    model, with room for its slow answers (stop_all() it when done)."""
    s = LoopSystem(redis_server, tmp_path, **{"lease-ms": 10000})
    s.dispatcher()
    s.loop_worker(llama_server.url, llama_server.model,
                  **{"llm-max-tokens": 256, "llm-timeout-ms": 300000, "llm-retries": 0})
    return s


def check_history(s, jid):
    """The invariants of every loop job's history: one commit per iteration,
    in order, each matching its iteration hash; returns (history, iterations)."""
    g = s.git(jid)
    hist = g.history()
    its = s.iterations(jid)
    assert [c["iteration"] for c in hist] == list(range(len(its)))
    assert sorted(g.commit_objects()) == sorted(c["oid"] for c in hist), "stray commits"
    for c, it in zip(hist, its):
        assert it["commit"] == c["oid"]
        assert c["job"] == jid
        assert c["subject"] == it["summary"][:200]
        files = g.tree(c["tree"])
        assert files["solution.py"].decode() == it["code"]
        report = json.loads(files["report.json"])
        assert report["loop"]["iteration"] == c["iteration"]
        assert report["loop"]["phase"] == it["phase"]
        assert json.loads(it["report"]) == report
    return hist, its


