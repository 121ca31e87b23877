"""Helpers for the HTTP suites: a real dispatcher serving the HTTP API
(--http-listen on a private port), real workers and redis-server (from
tests/integration/jobsys.py), and a small HTTP client on http.client."""
import http.client
import json
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

from conftest import free_port  # noqa: E402
from jobsys import System, evaluate  # noqa: E402,F401

ROOT = Path(__file__).resolve().parent.parent.parent


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.headers.get('content-type')} {self.body[:300]!r}>"


class Api:
    def __init__(self, port, token=None):
        self.port = port
        self.token = token
        self.base = f"http://127.0.0.1:{port}"

    def req(self, method, path, body=None, headers=None, timeout=60, token=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        tok = token if token is not None else self.token
        if tok:
            h.setdefault("Authorization", f"Bearer {tok}")
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return Resp(r.status, r.getheaders(), r.read())
        finally:
            c.close()

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    def wait_job(self, jid, timeout=60, states=("done", "cancelled", "rejected", "dead")):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.get(f"/jobs/{jid}")
            if r.status == 200 and r.json()["state"] in states:
                return r.json()
            time.sleep(0.05)
        raise AssertionError(f"job {jid} not final after {timeout}s")

    def events(self, jid, last_event_id=None, timeout=60):
        """Follow /jobs/{id}/events to its end: [(id, event, data)]."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Accept": "text/event-stream"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if last_event_id:
            h["Last-Event-ID"] = last_event_id
        c.request("GET", f"/jobs/{jid}/events", headers=h)
        r = c.getresponse()
        assert r.status == 200, r.read()
        assert r.getheader("Content-Type") == "text/event-stream"
        out, cur = [], {}
        for raw in r:
            line = raw.decode().rstrip("\n")
            if line == "":
                if "data" in cur:
                    out.append((cur.get("id"), cur.get("event"), json.loads(cur["data"])))
                cur = {}
            elif not line.startswith(":"):
                k, _, v = line.partition(": ")
                cur[k] = v
        c.close()
        return out


def wait_port(port, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


class HttpSystem(System):
    """A System whose dispatchers serve HTTP; api(i) talks to dispatcher i."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.ports = []

    def http_dispatcher(self, *args, **settings):
        port = free_port()
        p = self.dispatcher("--http-listen", f"127.0.0.1:{port}", *args, **settings)
        wait_port(port)
        self.ports.append(port)
        return p

    def api(self, i=0, token=None):
        return Api(self.ports[i], token)


# Fixtures; test files import them by name.
import pytest  # noqa: E402


@pytest.fixture
def hsys(redis_server, tmp_path):
    s = HttpSystem(redis_server, tmp_path)
    yield s
    s.stop_all()


@pytest.fixture
def api(hsys):
    """One HTTP dispatcher and one worker."""
    hsys.http_dispatcher()
    hsys.worker()
    return hsys.api()
