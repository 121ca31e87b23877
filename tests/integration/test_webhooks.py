"""Completion callbacks: a receiver on loopback checks the signature and
answers 500 twice then 200 (three attempts, each in the job's events); one
that never answers (attempts stop at the limit, the job stays done); a
dispatcher killed between the job's end and the delivery (the next one
delivers); the guard against private destinations, redirects and big
responses."""
import hashlib
import hmac
import json
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import free_port
from jobsys import evaluate
from test_metrics import sample, scrape

SECRET = "s3cr3t-key"

class Receiver:
    """An HTTP server on 127.0.0.1 answering from a script of replies:
    an int status, "hang" (never answers), ("redirect", url), ("big", n)."""

    def __init__(self, replies, default=200):
        self.replies = list(replies)
        self.default = default
        self.got = []
        self.stop_hanging = threading.Event()
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.got.append((self.path, dict(self.headers), body))
                reply = outer.replies.pop(0) if outer.replies else outer.default
                if reply == "hang":
                    outer.stop_hanging.wait(30)
                    return
                if isinstance(reply, tuple) and reply[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", reply[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if isinstance(reply, tuple) and reply[0] == "big":
                    self.send_response(200)
                    self.send_header("Content-Length", str(reply[1]))
                    self.end_headers()
                    try:
                        self.wfile.write(b"x" * reply[1])
                    except OSError:
                        pass
                    return
                self.send_response(reply)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.stop_hanging.set()
        self.server.shutdown()
        self.server.server_close()

SYSTEM = {"prefix": "cb:"}  # the system fixture's (tests/conftest.py)


def callback_events(system, jid):
    return [e for e in system.events(jid) if e["type"] == "callback"]


def dispatcher(system, *args, **settings):
    base = {"callback-secret": SECRET, "callback-allow": "127.0.0.0/8",
            "callback-backoff-ms": 100, "callback-timeout-ms": 1000}
    return system.dispatcher(*args, **{**base, **settings})


def test_signed_delivery_retried_after_two_500s(system):
    rx = Receiver([500, 500, 200])
    mport = free_port()
    try:
        dispatcher(system, "--metrics-listen", f"127.0.0.1:{mport}")
        system.worker()
        jid = system.submit(evaluate("print('hi')\nassert 2 + 2 == 4", callback_url=rx.url))
        assert system.wait(jid)["state"] == "done"
        system.wait_for(lambda: system.job(jid).get("callback_state") == "delivered",
                        what="the delivery")
        assert len(rx.got) == 3
        ids = {h["X-Llmrepl-Delivery"] for _, h, _ in rx.got}
        assert ids == {jid}
        assert [h["X-Llmrepl-Attempt"] for _, h, _ in rx.got] == ["1", "2", "3"]
        for path, h, body in rx.got:
            assert path == "/hook" and h["Content-Type"] == "application/json"
            want = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert h["X-Llmrepl-Signature"] == "sha256=" + want
        payload = json.loads(rx.got[-1][2])
        assert set(payload) == {"id", "state", "passed", "error", "summary", "result"}
        assert payload["id"] == jid and payload["state"] == "done"
        assert payload["passed"] is True and payload["error"] is None
        assert "hi" in payload["result"]["stdout"]
        ev = callback_events(system, jid)
        assert [(e["callback_attempt"], e["outcome"], e["status"]) for e in ev] == [
            ("1", "retry", "500"), ("2", "retry", "500"), ("3", "delivered", "200")]
        assert "HTTP status 500" in ev[0]["detail"]
        assert system.stats()["total:callbacks_delivered"] == "1"
        assert system.r.zcard(system.prefix + "callbacks") == 0
        text = scrape(mport)
        assert sample(text, "llmrepl_callbacks_total", outcome="delivered") == 1
        assert sample(text, "llmrepl_callbacks_pending") == 0
    finally:
        rx.close()


def test_receiver_that_never_answers_stops_at_the_limit(system):
    rx = Receiver([], default="hang")
    try:
        dispatcher(system, **{"callback-timeout-ms": 300, "callback-max-attempts": 3})
        system.worker()
        jid = system.submit(evaluate("x = 1", callback_url=rx.url))
        assert system.wait(jid)["state"] == "done"
        system.wait_for(lambda: system.job(jid).get("callback_state") == "failed",
                        timeout=30, what="giving up")
        ev = callback_events(system, jid)
        assert [e["outcome"] for e in ev] == ["retry", "retry", "failed"]
        assert all(e["status"] == "0" and "no answer within 300 ms" in e["detail"] for e in ev)
        time.sleep(1)
        assert len(rx.got) == 3
        h = system.job(jid)
        assert h["state"] == "done" and h["passed"] == "1" and h["callback_attempts"] == "3"
        assert system.stats()["total:callbacks_failed"] == "1"
    finally:
        rx.close()


def test_dispatcher_killed_before_the_delivery_the_next_one_delivers(system):
    rx = Receiver([])
    try:
        d = dispatcher(system)
        system.worker()
        jid = system.submit(evaluate("import time\ntime.sleep(1)", callback_url=rx.url))
        system.wait(jid, states={"running"})
        d.signal(signal.SIGKILL)
        d.p.wait(timeout=10)
        assert system.wait(jid)["state"] == "done"
        # The job's end put the delivery in the outbox; nobody sent it yet.
        assert system.r.zscore(system.prefix + "callbacks", jid) is not None
        time.sleep(0.5)
        assert rx.got == []
        dispatcher(system)
        system.wait_for(lambda: system.job(jid).get("callback_state") == "delivered",
                        what="the delivery by the new dispatcher")
        assert len(rx.got) == 1 and json.loads(rx.got[0][2])["id"] == jid
    finally:
        rx.close()


def test_guard_private_destinations_redirects_and_big_responses(system):
    rx = Receiver([("redirect", "/elsewhere"), ("big", 1 << 20)])
    try:
        # No --callback-allow: loopback is refused without a request.
        d = dispatcher(system, **{"callback-allow": "", "callback-max-attempts": 1})
        system.worker()
        jid = system.submit(evaluate("x = 1", callback_url=rx.url))
        system.wait(jid)
        system.wait_for(lambda: system.job(jid).get("callback_state") == "failed",
                        what="the refusal")
        ev = callback_events(system, jid)
        assert len(ev) == 1 and "127.0.0.1 is a loopback address" in ev[0]["detail"]
        assert rx.got == []
        d.stop()
        dispatcher(system, **{"callback-max-attempts": 1})
        a = system.submit(evaluate("x = 1", callback_url=rx.url))
        system.wait_for(lambda: system.job(a).get("callback_state") == "failed",
                        what="the redirect refused")
        assert callback_events(system, a)[0]["status"] == "302"
        b = system.submit(evaluate("x = 2", callback_url=rx.url))
        system.wait_for(lambda: system.job(b).get("callback_state") == "failed",
                        what="the big response refused")
        assert "over 65536 bytes" in callback_events(system, b)[0]["detail"]
        assert [p for p, _, _ in rx.got] == ["/hook", "/hook"]  # /elsewhere never asked
        # Only http and https are accepted in a spec.
        bad = system.submit(evaluate("x = 1", callback_url="file:///etc/passwd"))
        h = system.wait(bad)
        assert h["state"] == "rejected" and "callback_url" in h["error"]
    finally:
        rx.close()


def test_callback_url_through_the_http_api(system):
    import urllib.request
    rx = Receiver([])
    port = free_port()
    try:
        dispatcher(system, "--http-listen", f"127.0.0.1:{port}")
        system.worker()
        body = json.dumps({"code": "print(42)\n", "static_checks": False,
                           "callback_url": rx.url}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/evaluate", data=body,
                                     headers={"Content-Type": "application/json"})
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    out = json.loads(r.read())
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        assert out["success"] is True
        jid = out["job_id"]
        system.wait_for(lambda: system.job(jid).get("callback_state") == "delivered",
                        what="the delivery")
        payload = json.loads(rx.got[0][2])
        assert payload["id"] == jid and payload["result"]["stdout"] == "42\n"
    finally:
        rx.close()
