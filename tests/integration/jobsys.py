"""Helpers for the job-system suites: real dispatcher and worker processes
against the `redis_server` fixture, driven the way users drive them
(redis-cli XADD, HGETALL, XRANGE)."""
import json
import os
import resource
import signal
import subprocess
import threading
import time
from pathlib import Path

import redis

from conftest import binary

FINAL = {"done", "cancelled", "rejected", "dead"}


def wait_until(cond, timeout=30, what="condition"):
    """cond()'s first true value, asked every 20 ms; AssertionError after timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def no_core():
    # Workers that abort on purpose must not litter the machine with cores.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Proc:
    """A dispatcher or worker process with its log in a file."""

    def __init__(self, name, argv, env, logdir):
        self.name = name
        self.argv = argv
        self.env = env
        self.logpath = Path(logdir) / f"{name}.log"
        self.p = None
        self.start()

    def start(self):
        log = open(self.logpath, "ab")
        self.p = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=log,
                                  preexec_fn=no_core)
        log.close()

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.p.pid, sig)

    def stop(self, timeout=30):
        self.ask_stop()
        return self.wait_stopped(timeout)

    def ask_stop(self):
        """SIGTERM (after SIGCONT: it may be stopped), without waiting."""
        if self.alive():
            os.kill(self.p.pid, signal.SIGCONT)
            self.p.terminate()

    def wait_stopped(self, timeout=30):
        """The exit status once it ended (SIGKILL after timeout)."""
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        return self.p.returncode

    def log(self):
        return self.logpath.read_text(errors="replace")


class Supervised:
    """A worker restarted whenever it exits, as systemd or a container
    runtime would; counts the restarts."""

    def __init__(self, make):
        self.make = make
        self.proc = make()
        self.restarts = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self):
        while not self.stopping:
            self.proc.p.wait()
            if self.stopping:
                return
            self.restarts += 1
            self.proc.start()

    def stop(self):
        self.ask_stop()
        return self.wait_stopped()

    def ask_stop(self):
        self.stopping = True
        self.proc.ask_stop()

    def wait_stopped(self, timeout=30):
        rc = self.proc.wait_stopped(timeout)
        self.thread.join(timeout=10)
        return rc

    def log(self):
        return self.proc.log()


class System:
    def __init__(self, redis_server, tmp_path, prefix="llmrepl:", **settings):
        self.redis = redis_server
        self.r = redis_server.client()
        self._raw = None
        self.dir = Path(tmp_path)
        self.prefix = prefix
        # Short leases and backoff, so that retries and orphans come back
        # quickly. (A stop ends a blocking read at once, whatever block-ms.)
        self.settings = {"lease-ms": 1000, "backoff-ms": 100, "block-ms": 200, **settings}
        self.procs = []
        self.count = 0

    @property
    def raw(self):
        """A client with bytes replies (git objects), made on first use: a
        replicated server (test_failover) has no single port."""
        if self._raw is None:
            self._raw = redis.Redis(host="127.0.0.1", port=self.redis.port)
        return self._raw

    def env(self, **settings):
        env = dict(os.environ)
        env["LLMREPL_REDIS_URL"] = self.redis.url
        env["LLMREPL_PREFIX"] = self.prefix
        for k, v in {**self.settings, **settings}.items():
            env["LLMREPL_" + k.upper().replace("-", "_")] = str(v)
        return env

    def llmrepl(self, *args, timeout=120):
        """The client, llmrepl ARGS, against this system: its CompletedProcess."""
        return subprocess.run([binary("llmrepl"), *args], capture_output=True, text=True,
                              env=self.env(), timeout=timeout)

    def _start(self, kind, args, settings):
        self.count += 1
        name = f"{kind}{self.count}"
        argv = [binary(f"llmrepl-{kind}"), "--name", name, *args]
        # Each binary reads the LLMREPL_* settings it knows and ignores the rest.
        return Proc(name, argv, self.env(**settings), self.dir)

    def dispatcher(self, *args, **settings):
        p = self._start("dispatcher", args, settings)
        self.procs.append(p)
        return p

    def worker(self, *args, supervise=False, **settings):
        if supervise:
            s = Supervised(lambda: self._start("worker", args, settings))
            self.procs.append(s)
            return s
        p = self._start("worker", args, settings)
        self.procs.append(p)
        return p

    def stop_all(self):
        """Stop everything; fail if a sanitizer build reported a problem.
        Every process is asked first, then waited for: they stop side by side."""
        for p in self.procs:
            p.ask_stop()
        for p in self.procs:
            p.wait_stopped()
        for p in self.procs:
            log = p.log()
            for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                assert marker not in log, f"{p.proc.name if hasattr(p, 'proc') else p.name}: " \
                                          f"{log[log.index(marker):][:2000]}"

    # ---- the user's side ----------------------------------------------------

    def key(self, *parts):
        return self.prefix + ":".join(parts)

    def submit(self, spec):
        text = spec if isinstance(spec, str) else json.dumps(spec)
        out = self.redis.cli("XADD", self.prefix + "requests", "*", "spec", text)
        return out.strip()

    def job(self, jid):
        return self.r.hgetall(self.key("job", jid))

    def events(self, jid):
        return [f for _, f in self.r.xrange(self.key("job", jid, "events"))]

    def wait(self, jid, timeout=60, states=FINAL):
        deadline = time.time() + timeout
        while time.time() < deadline:
            h = self.job(jid)
            if h.get("state") in states:
                return h
            time.sleep(0.02)
        raise AssertionError(f"job {jid} not in {states} after {timeout}s: {self.job(jid)}"
                             f"{self.ended()}")

    def ended(self):
        """What the processes that ended on their own said last (for a
        failure's message: a job left queued because its only worker died)."""
        out = ""
        for p in self.procs:
            proc = getattr(p, "proc", p)
            if proc.p.poll() is not None:
                out += f"\n{proc.name} ended with status {proc.p.returncode}; its log ends:\n" \
                       f"{proc.log()[-3000:]}"
        return out

    def wait_for(self, cond, timeout=30, what="condition"):
        return wait_until(cond, timeout, what)

    def stats(self):
        return self.r.hgetall(self.prefix + "stats")


def evaluate(code, **fields):
    return {"kind": "evaluate", "code": code, "static_checks": False, **fields}
