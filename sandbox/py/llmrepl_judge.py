"""llmrepl_judge - the judge's side of the split: the code under test runs in
a candidate process (llmrepl_candidate) under another uid, and this process
runs the tests.

Remote is the connection to one candidate worker (made by the factory on fd
6). The names the code defines become proxies here: plain values are copied,
functions, classes and other objects are handles whose calls, attribute
reads and operators go to the candidate and come back as data
(llmrepl_wire). The judge compares its own decoded objects: no method of the
candidate's runs in this process.

A candidate that dies or overstays a call's deadline is killed through the
factory; the call raises (StepTimeout, or CandidateCrashed), and the next
call starts a fresh worker with the code loaded again. Handles of an earlier
worker are then dead.
"""
import builtins
import os
import socket
import struct
import sys
import time

import llmrepl_runner
import llmrepl_wire as wire

FACTORY_FD = 10  # the factory this judge's evaluation asks (take_turn)
# The candidate factories: the first, and (a pool's server as root) a second
# under a uid of its own, which grouped items take in turns (take_turn).
FACTORY_FDS = (10, 12)
CGROUP_FDS = ()  # the pool's run cgroups, which each worker joins (set by the entry)
GRACE_S = 0.5
CALLBACKS_MAX = 100000  # calls back from the code within one call of it
CALLBACK_DEPTH_MAX = 32  # callbacks that call the code that calls back...
CALLABLES_MAX = 10000  # the judge's callables handed to the code per worker
# A judge shared by several items (llmrepl_warm) imports only the modules this
# allows when the code names one of its globals as a module (None: any, as a
# judge of one item's does); a module refused is noted in REFUSED and the
# item is evaluated again by a judge of its own.
MODULE_OK = None
REFUSED = []


class CandidateCrashed(BaseException):
    """The candidate's process ended (or broke the protocol) during a call."""

    llmrepl_status = "crashed"


class CallbackLimit(wire.WireError):
    """The code called the tests' callables back more often than allowed."""


def available():
    return _is_factory(FACTORY_FD)


def _is_factory(fd):
    """Whether fd is a candidate factory's socket (a SOCK_SEQPACKET one)."""
    try:
        s = socket.socket(fileno=os.dup(fd))
    except OSError:
        return False
    ok = s.type == socket.SOCK_SEQPACKET
    s.close()
    return ok


def close_fds():
    """Close what only a split run's judge may use: the candidate factories'
    sockets and, in the pool, the run's cgroups (which each worker joins)
    and its count of processes. For a process about to run the code itself
    (in process): code holding them could ask a factory for workers, a
    CLEAN or a KILL, or move processes between the run's cgroups. After
    this, available() is False."""
    global CGROUP_FDS, PIDS_FD
    fds = [fd for fd in FACTORY_FDS if _is_factory(fd)] + list(CGROUP_FDS) + [PIDS_FD]
    CGROUP_FDS, PIDS_FD = (), -1
    for fd in fds:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


def factories():
    """The candidate factories' fds this process holds (FACTORY_FDS)."""
    out = []
    for fd in FACTORY_FDS:
        try:
            os.fstat(fd)
        except OSError:
            continue
        out.append(fd)
    return out


def take_turn(turn):
    """The factory that evaluation number `turn` of a grouped run asks:
    the two in turn when there are two, so that each item's worker has
    another uid than the last item's, and the next item's worker can be
    forked and made ready (in its own uid) while the last item's code runs
    (llmrepl_candidate). Sets FACTORY_FD; returns the other factory's fd,
    or -1."""
    global FACTORY_FD
    fds = factories()
    if len(fds) < 2:
        FACTORY_FD = FACTORY_FDS[0]
        return -1
    FACTORY_FD = fds[turn % 2]
    return fds[(turn + 1) % 2]


def factory_clean(timeout, fds=None):
    """Ask the factory (each of fds, else FACTORY_FD's) to CLEAN: kill every
    process of the candidate's uid and wipe /work and /tmp of its files;
    all asked first, then each answer taken (they clean up side by side).
    True when every one answered OK within timeout (alive, and what comes
    next starts clean)."""
    socks = []
    ok = True
    try:
        for fd in [FACTORY_FD] if fds is None else fds:
            s = socket.socket(fileno=os.dup(fd))
            socks.append(s)
            s.settimeout(timeout)
            s.send(b"CLEAN")
        for s in socks:
            ok = s.recv(16) == b"OK" and ok
        return ok
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


FINAL = False  # the host takes an answer marked final (the request's "final_mark")
PIDS_FD = -1  # the run's pids.current (read-only; set by the pool's entry), or -1
_ENDED = []  # the read end of the pipe sent with END (FINAL only)


def _end(ctl):
    """END to the factory; with FINAL, with a pipe's write end, which the
    factory closes once every process of the candidate's uid is dead
    (ended() waits for that)."""
    r = w = -1
    try:
        if FINAL:
            r, w = os.pipe2(os.O_CLOEXEC)
            socket.send_fds(ctl, [b"END"], [w], socket.MSG_DONTWAIT)
            _ENDED.append(r)
            r = -1
        else:
            ctl.send(b"END", socket.MSG_DONTWAIT)
    except OSError:
        pass
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)


def ended(timeout):
    """Whether the factory has killed every process of the candidate's uid
    since this judge's END (it closed the pipe sent with it) within
    timeout: no process of the code's can run, write or allocate any more."""
    if not _ENDED:
        return False
    import select
    fd = _ENDED.pop()
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        return bool(ready) and os.read(fd, 1) == b""
    except OSError:
        return False
    finally:
        os.close(fd)


def alone():
    """Whether this process, one thread, is all that is left of the run:
    its pids cgroup counts one task (every process and thread of the run,
    the code's workers too, is counted there until it is reaped)."""
    if PIDS_FD < 0:
        return False
    try:
        return os.pread(PIDS_FD, 32, 0).strip() == b"1"
    except OSError:
        return False


def tracing():
    """Whether the timing trace is on (LLMREPL_SBX_TRACE, kept by llmrepl_sbx,
    the sandbox's entry; off where the harness runs without it)."""
    sbx = sys.modules.get("llmrepl_sbx")
    return sbx is not None and sbx._TRACE


def mark(name):
    """A trace mark, for the judge, the harness and a grouped item's child
    alike (a grouped item's marks are reported by llmrepl_group), else
    nothing."""
    sbx = sys.modules.get("llmrepl_sbx")
    if sbx is not None and sbx._TRACE:
        sbx._mark(name)


_EXC_CACHE = {}


def exc_class(names):
    """The judge's stand-in for an exception class of the code's, by the
    names along its MRO: the first builtin one is its base. One class per
    name list, so that raising and catching (`except MyError`,
    assertRaises(MyError)) meet."""
    key = tuple(names)
    cls = _EXC_CACHE.get(key)
    if cls is not None:
        return cls
    base = None
    for n in names:
        c = getattr(builtins, n, None)
        if isinstance(c, type) and issubclass(c, BaseException):
            base = c
            break
    if base is None or base in (KeyboardInterrupt, GeneratorExit):
        base = Exception
    cls = base
    if names and names[0] != base.__name__:
        try:
            cls = type(names[0], (base,), {"__module__": "solution"})
        except TypeError:
            cls = type(names[0], (Exception,), {"__module__": "solution"})
    if len(_EXC_CACHE) < 1000:
        _EXC_CACHE[key] = cls
    return cls


def fresh():
    """What a judge keeps between evaluations, forgotten (a shared judge,
    llmrepl_warm, before each item)."""
    _EXC_CACHE.clear()
    del REFUSED[:]


def _exception(names, message, frames):
    if names and names[0] == "StepTimeout":
        e = llmrepl_runner.StepTimeout("did not finish within its time limit")
    else:
        cls = exc_class(names)
        try:
            e = cls(message)
        except Exception:  # noqa: BLE001 - constructors with other arguments
            e = exc_class([names[0] if names else "Exception", "Exception"])(message)
    e._llmrepl_frames = list(frames)
    return e


class _RemoteClass(type):
    """A class of the code's as the judge sees it: calling it constructs an
    object in the candidate (a Handle); isinstance() checks the handle's
    type name; other attributes are read from the candidate."""

    def __call__(cls, *args, **kwargs):
        return cls._llmrepl_g(*args, **kwargs)

    def __getattr__(cls, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(cls._llmrepl_g, name)

    def __instancecheck__(cls, obj):
        return isinstance(obj, Handle) and obj._r is cls._llmrepl_g._r and \
            obj._typename == cls.__name__

    def __repr__(cls):
        return "<class 'solution.%s'>" % cls.__name__


def remote_class(g):
    try:
        return _RemoteClass(g._name, (), {"_llmrepl_g": g, "__module__": "solution"})
    except (TypeError, ValueError):
        return g


class Remote:
    def __init__(self, opts, timeout_fn, lim=None, ctl=None):
        self.ctl = ctl or socket.socket(fileno=os.dup(FACTORY_FD))
        self.sock = None
        self.gen = 0
        self.opts = opts
        self.timeout_fn = timeout_fn
        self.lim = lim or (max(1, int(opts["budget_s"]) + 2), 1 << 14, 64, 16, 256)
        self.names = None
        self.load_error = None
        self.dead = None
        self.calls = 0
        self.pending = False  # a load sent by prestart() awaits its answer
        self.waiting = False  # in a call (Runner.on_alarm lets the grace run)
        self.sent_at = None  # when (perf_counter): the code's load time counts from then
        self.callables = {}  # id -> a callable of the judge's handed to the code
        self.callable_ids = {}  # id(callable) -> id
        self.cb_depth = 0  # nested requests (a callback calling the code again)
        self.ahead = []  # calls sent ahead whose answers are still to be taken, in order
        self.cb_count = 0  # callbacks within the outermost request

    # ---- the worker's life -------------------------------------------------------
    def _start(self):
        if self.dead is not None:
            raise CandidateCrashed(self.dead)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(self.ctl, [("NEW %d %d %d %d %d" % self.lim).encode()],
                            [theirs.fileno(), 1, 2] + list(CGROUP_FDS))
        except OSError as e:
            self.dead = "the code's process could not be started (%s)" % e
            mine.close()
            raise CandidateCrashed(self.dead) from None
        finally:
            theirs.close()
        self.sock = mine
        self.gen += 1

    def kill(self):
        self.ahead = []
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        try:
            self.ctl.settimeout(5)
            self.ctl.send(b"KILL")
            if self.ctl.recv(16) != b"OK":
                raise OSError("no answer")
        except OSError:
            self.dead = "the code's process factory is gone"
        finally:
            self.ctl.settimeout(None)

    def close(self):
        """The worker ends when its socket closes; whatever it left running
        is killed by the sandbox after the run (the pool's CLEAN, or the
        cold run's end). In the pool the factory is told now ("END"), so
        that it cleans up and forks the next run's worker while this
        process writes its answer and exits, not after."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if CGROUP_FDS and self.dead is None:
            _end(self.ctl)
        self.ctl.close()
        mark("j.end")

    def prestart(self):
        """Start the worker and send it the code now (load() takes the
        answer): the code loads there while the judge runs the static
        checks here."""
        try:
            self._start()
            wire.send(self.sock, self._load_msg())
            self.pending = True
            self.sent_at = time.perf_counter()
        except (CandidateCrashed, OSError, wire.WireError):
            if self.sock is not None:
                self.kill()

    def _load_msg(self):
        msg = ["load", self.opts["code"], self.opts["module"], self.timeout_fn(),
               self.opts["max_output"]]
        if self.opts.get("session_cells"):
            msg.append(self.opts["session_cells"])
        return msg

    def _request(self, msg, timeout, grace=GRACE_S):
        ahead = msg is not None and bool(self.ahead) and self._take_ahead(msg)
        if self.sock is None:
            self._start()
            if self.names is not None:
                self._load()  # a fresh worker: the code again, silently
        # Past the step's deadline the candidate gets the grace to stop by
        # itself (the runner's timer raises StepTimeout here then, see
        # Runner.on_alarm), but never much past the evaluation's own budget:
        # the socket's own timeouts are the backstop. A blocking socket with
        # SO_RCVTIMEO, not settimeout(): Python's timeouts poll() before each
        # call, which costs a round trip four times over.
        wait = min(timeout + grace, max(timeout, self.opts["deadline"] - time.monotonic()) + 0.1)
        tv = struct.pack("ll", int(wait), int((wait % 1) * 1e6))
        self.waiting = True
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
            if ahead:
                reply = self._ahead_reply()
            else:
                if msg is not None:
                    wire.send(self.sock, msg)
                reply = wire.recv(self.sock)
            while type(reply) is list and reply and reply[0] == "cb":
                # The code calls a callable of the tests': run here, on data.
                wire.send(self.sock, self._callback(reply))
                self.waiting = True
                reply = wire.recv(self.sock)
        except llmrepl_runner.StepTimeout:
            self.kill()
            raise
        except (BlockingIOError, socket.timeout):
            self.kill()
            raise llmrepl_runner.StepTimeout("did not finish within its time limit and did "
                                             "not stop when interrupted") from None
        except CallbackLimit as e:
            self.kill()
            raise CandidateCrashed("the code %s" % e) from None
        except (OSError, EOFError, wire.WireError) as e:
            self.kill()
            raise CandidateCrashed("the code's process ended during the call (%s)"
                                   % type(e).__name__) from None
        finally:
            self.waiting = False
        self.calls += 1
        return reply

    def _callback(self, msg):
        """["cb", id, args, kwargs] from the code: the judge's own callable
        on the decoded values (data, or handles of the code's objects),
        answered ["cbok", value] or ["cbraise", exception]. Bounded in count
        per outermost call and in nesting; a malformed request is a crash."""
        if len(msg) != 4 or type(msg[1]) is not int or msg[1] not in self.callables \
                or type(msg[2]) is not list or type(msg[3]) is not list:
            raise wire.WireError("malformed callback")
        self.cb_count += 1
        if self.cb_count > CALLBACKS_MAX:
            raise CallbackLimit("called back more than %d times in one call" % CALLBACKS_MAX)
        gen = self.gen
        dec = wire.Decoder(lambda i, n, k: self._handle(gen, i, n, k), _exception)
        args = [dec.dec(a) for a in msg[2]]
        kwargs = {}
        for kv in msg[3]:
            if type(kv) is not list or len(kv) != 2 or type(kv[0]) is not str:
                raise wire.WireError("malformed callback")
            kwargs[kv[0]] = dec.dec(kv[1])
        fn = self.callables[msg[1]]
        self.waiting = False  # the tests' own code runs: the step's timer applies
        try:
            if self.cb_depth >= CALLBACK_DEPTH_MAX:
                raise RecursionError("callbacks nested more than %d deep" % CALLBACK_DEPTH_MAX)
            value = fn(*args, **kwargs)
            return ["cbok", self.encode(value)]
        except (llmrepl_runner.StepTimeout, CandidateCrashed):
            raise
        except BaseException as e:  # noqa: BLE001 - the tests' callable raised: the code sees it
            return ["cbraise", wire.Encoder(lambda o: 0).enc_exc(e)]

    def _handle(self, gen, i, name, kind):
        if kind == "callback":
            raise wire.WireError("a callback handle from the code")
        return Handle(self, gen, i, name, kind)

    # ---- calls sent ahead (llmrepl_ahead) ------------------------------------------
    def send_ahead(self, fn, name, row, timeout):
        """Send the row of calls check() is about to make of the code's
        function `name` (fn, its proxy), each [args, kwargs] of literals,
        so that the worker runs them one after another while the tests
        compare. Each is then taken, in order, by the call the tests make
        (_request); a call that is not the next one sent kills the worker
        (the tests went another way: a fresh worker, as after a crash)."""
        if type(fn) is not Global or fn._name != name or fn._r is not self or \
                self.sock is None or self.pending or self.ahead or self.cb_depth:
            return
        self._send_row(name, row, timeout)

    def send_early(self, name, row, timeout):
        """The row right behind the code's load, before the tests are
        planned (llmrepl_ahead.early): taken by check()'s calls as
        send_ahead's would be (send_ahead then sends nothing)."""
        if self.sock is None or not self.pending or self.ahead or self.cb_depth or \
                self.dead is not None:
            return
        self._send_row(name, row, timeout)

    def _send_row(self, name, row, timeout):
        t = max(0.001, timeout)
        try:
            batch = [[name, [self.encode(x) for x in args],
                      [[str(k), self.encode(v)] for k, v in kwargs.items()], t]
                     for args, kwargs in row]
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                                 struct.pack("ll", 1, 0))
            wire.send(self.sock, ["calls", batch])
        except (OSError, wire.WireError, ValueError):
            self.kill()
            return
        self.ahead = [b[:3] for b in batch]

    def _take_ahead(self, msg):
        """True when msg is the next call sent ahead (its answer is coming)."""
        head = self.ahead.pop(0)
        if msg[0] == "call" and len(msg) == 5 and head == msg[1:4]:
            return True
        self.kill()
        return False

    def _ahead_reply(self):
        """The answer to a call sent ahead: the worker's answer with a fifth
        element, true when the row stopped there (the call's value made a
        handle, which the tests may use before the next call: the rest go
        one by one)."""
        reply = wire.recv(self.sock)
        if type(reply) is list and len(reply) == 5:
            if reply.pop() is not False:
                self.ahead = []
        return reply

    def _callable_id(self, fn):
        i = self.callable_ids.get(id(fn))
        if i is None or self.callables.get(i) is not fn:
            if len(self.callables) >= CALLABLES_MAX:
                raise TypeError("more than %d callables passed to the code" % CALLABLES_MAX)
            i = len(self.callables) + 1
            self.callables[i] = fn
            self.callable_ids[id(fn)] = i
        return i

    def _answer(self, reply):
        if len(reply) != 4 or reply[0] not in ("ok", "raise") or type(reply[2]) is not str \
                or type(reply[3]) is not str:
            self.kill()
            raise CandidateCrashed("the code's process sent a malformed answer")
        import sys
        if reply[2]:
            sys.stdout.write(reply[2])
        if reply[3]:
            sys.stderr.write(reply[3])
        gen = self.gen
        try:
            value = wire.Decoder(lambda i, name, kind: self._handle(gen, i, name, kind),
                                 _exception).dec(reply[1])
        except wire.WireError as e:
            self.kill()
            raise CandidateCrashed("the code's process sent a malformed value: %s" % e) from None
        if reply[0] == "raise":
            if not isinstance(value, BaseException):
                raise CandidateCrashed("the code's process sent a malformed exception")
            raise value
        return value

    def _load(self):
        if self.pending and self.sock is not None:
            self.pending = False
            reply = self._request(None, self.timeout_fn())  # sent by prestart()
        else:
            reply = self._request(self._load_msg(), self.timeout_fn())
        mark("j.loaded")
        if reply[0] == "ok" and (type(reply[1]) is not list or len(reply[1]) != 2
                                 or reply[1][0] != "names" or type(reply[1][1]) is not dict):
            self.kill()
            raise CandidateCrashed("the code's process sent a malformed answer")
        if reply[0] == "ok":
            names = reply[1][1]
            reply = [reply[0], ["n"], reply[2], reply[3]]
            self._answer(reply)
            return names
        return self._answer(reply)

    def load(self):
        """The code's globals as the judge sees them: {name: value or proxy}."""
        names = self._load()
        out = {}
        gen = self.gen
        for name, v in names.items():
            if type(name) is not str or not name.isidentifier():
                continue
            if type(v) is list and len(v) == 2 and v[0] == "mod" and type(v[1]) is str:
                if MODULE_OK is not None and not MODULE_OK(v[1]):
                    REFUSED.append(v[1])
                    out[name] = Global(self, name, "object", "module")
                    continue
                try:
                    out[name] = __import__(v[1], fromlist=["_"])
                except BaseException:  # noqa: BLE001 - a module only the code has
                    out[name] = Global(self, name, "object", v[1])
                continue
            if type(v) is list and len(v) == 2 and v[0] == "excclass" and type(v[1]) is list:
                out[name] = exc_class([n for n in v[1][:16] if type(n) is str] or [name])
                continue
            if type(v) is list and v and v[0] == "h" and len(v) == 4:
                g = Global(self, name, v[3], v[2])
                out[name] = remote_class(g) if v[3] == "class" else g
                continue
            try:
                out[name] = wire.Decoder(lambda i, n, k: self._handle(gen, i, n, k),
                                         _exception).dec(v)
            except wire.WireError:
                continue
        self.names = names
        return out

    # ---- calls ---------------------------------------------------------------------
    def encode(self, x):
        def handle(obj):
            if isinstance(obj, _RemoteClass):
                obj = obj._llmrepl_g
            if isinstance(obj, Global) and obj._r is self:
                return 0
            if isinstance(obj, Handle) and obj._r is self and obj._gen == self.gen:
                return obj._hid
            raise TypeError("a %s cannot be passed to the code under test (only plain "
                            "data, callables and the code's own objects can)"
                            % type(obj).__name__)

        enc = _Encoder(handle, self)
        v = enc.enc(x)
        if v[0] == "h" and v[1] == 0:
            v[2] = x._llmrepl_g._name if isinstance(x, _RemoteClass) else x._name
            v[3] = "global"
        return v

    def _outer(self, send):
        """A request from the tests (not from a callback): its own count of
        callbacks. The callables handed to a worker die with it."""
        if self.cb_depth == 0:
            self.cb_count = 0
        if self.sock is None:
            self.callables.clear()
            self.callable_ids.clear()
        self.cb_depth += 1
        try:
            return send()
        finally:
            self.cb_depth -= 1

    def call(self, target, args, kwargs):
        return self._outer(lambda: self._call(target, args, kwargs))

    def op(self, target, name, args=(), kwargs=None):
        return self._outer(lambda: self._op(target, name, args, kwargs))

    def example(self, doc, source, filename):
        """One example of the code's own docstrings, run in the candidate
        (llmrepl_candidate.Worker.example): (what it printed, the last line
        of its exception as traceback.format_exception_only gives it, the
        exception) or (what it printed, None, None). Its text never runs
        here; a timeout or a crash raises as a call's does."""
        return self._outer(lambda: self._example(doc, source, filename))

    def _example(self, doc, source, filename):
        t = self.timeout_fn()
        reply = self._request(["example", doc, source, filename, t], t)
        if type(reply) is not list or len(reply) != 5 or type(reply[2]) is not str or \
                not (reply[4] is None or (reply[0] == "raise" and type(reply[4]) is str)):
            self.kill()
            raise CandidateCrashed("the code's process sent a malformed answer")
        text = reply.pop()
        got, reply[2] = reply[2], ""  # the output is the example's, compared, not the run's
        try:
            self._answer(reply)
        except (llmrepl_runner.StepTimeout, CandidateCrashed):
            raise
        except BaseException as e:  # noqa: BLE001 - the example raised
            if text is None:
                raise
            return got, text, e
        return got, None, None

    def _call(self, target, args, kwargs):
        a = [self.encode(x) for x in args]
        kw = [[str(k), self.encode(v)] for k, v in kwargs.items()]
        t = self.timeout_fn()
        return self._answer(self._request(["call", target, a, kw, t], t))

    def _op(self, target, name, args=(), kwargs=None):
        a = [self.encode(x) for x in args]
        kw = [[str(k), self.encode(v)] for k, v in (kwargs or {}).items()]
        t = self.timeout_fn()
        return self._answer(self._request(["op", target, name, a, kw, t], t))


class _Encoder(wire.Encoder):
    """The judge's values for the code: a callable of the judge's (a
    function, a lambda, a bound method, a builtin, a class of the tests')
    crosses as a "callback" handle; the code calls it back through the
    socket and gets data back (Remote._callback)."""

    def __init__(self, handle, remote):
        super().__init__(handle)
        self.remote = remote

    def enc_handle(self, x):
        if callable(x) and not isinstance(x, (_Proxy, _RemoteClass)):
            name = getattr(x, "__name__", None)
            if not isinstance(name, str):
                name = type(x).__name__
            return ["h", self.remote._callable_id(x), wire._clip(name, wire.NAME_MAX),
                    "callback"]
        return super().enc_handle(x)


class _Proxy:
    """What the judge holds for an object of the candidate's."""

    __slots__ = ("_r", "_kind", "_typename", "__weakref__")
    llmrepl_status = None

    def _target(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        return self._r.call(self._target(), args, kwargs)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__") and name not in (
                "__name__", "__qualname__", "__doc__"):
            raise AttributeError(name)
        return self._r.op(self._target(), "getattr", (name,))

    def __setattr__(self, name, value):
        if name in _Proxy.__slots__ or name in ("_name", "_gen", "_hid"):
            object.__setattr__(self, name, value)
        else:
            self._r.op(self._target(), "setattr", (name, value))

    def __repr__(self):
        v = self._r.op(self._target(), "repr")
        return v if type(v) is str else "<%s object>" % self._typename

    def __str__(self):
        v = self._r.op(self._target(), "str")
        return v if type(v) is str else "<%s object>" % self._typename

    def __len__(self):
        v = self._r.op(self._target(), "len")
        if type(v) is not int:
            raise TypeError("len() of the code's object is not an int")
        return v

    def __bool__(self):
        v = self._r.op(self._target(), "bool")
        if type(v) is not bool:
            raise TypeError("bool() of the code's object is not a bool")
        return v

    def __iter__(self):
        return self._r.op(self._target(), "iter")

    def __next__(self):
        return self._r.op(self._target(), "next")

    def __getitem__(self, k):
        return self._r.op(self._target(), "getitem", (k,))

    def __setitem__(self, k, v):
        self._r.op(self._target(), "setitem", (k, v))

    def __delitem__(self, k):
        self._r.op(self._target(), "delitem", (k,))

    def __contains__(self, k):
        v = self._r.op(self._target(), "contains", (k,))
        if type(v) is not bool:
            raise TypeError("`in` on the code's object did not give a bool")
        return v

    def __enter__(self):
        return self._r.op(self._target(), "enter")

    def __exit__(self, *a):
        return self._r.op(self._target(), "exit", (None, None, None))

    def __hash__(self):
        return hash((id(self._r), self._key()))

    def _key(self):
        return self._target() if isinstance(self._target(), str) else tuple(self._target()[:2])

    # Comparisons: only between two objects of the code's, where the code's
    # own answer is all there is to go on; against the judge's values they
    # are identity (so an __eq__ of the code's never decides a test).
    def _cmp(self, other, name):
        if isinstance(other, _Proxy) and other._r is self._r:
            v = self._r.op(self._target(), name, (other,))
            if type(v) is bool:
                return v
        return NotImplemented

    def __eq__(self, other):
        if other is self:
            return True
        if isinstance(other, _Proxy) and other._r is self._r and other._key() == self._key():
            return True
        return self._cmp(other, "eq")

    def __ne__(self, other):
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __lt__(self, other):
        return self._cmp(other, "lt")

    def __le__(self, other):
        return self._cmp(other, "le")

    def __gt__(self, other):
        return self._cmp(other, "gt")

    def __ge__(self, other):
        return self._cmp(other, "ge")


def _arith(name):
    def f(self, *args):
        return self._r.op(self._target(), name, args)
    f.__name__ = "__%s__" % name
    return f


for _n in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "neg", "pos", "abs",
           "and", "or", "xor", "lshift", "rshift", "invert", "radd", "rsub", "rmul"):
    setattr(_Proxy, "__%s__" % _n, _arith(_n))


class Global(_Proxy):
    """A name the code defines, resolved in the candidate at each use (so it
    outlives a restarted worker)."""

    __slots__ = ("_name",)

    def __init__(self, remote, name, kind, typename):
        object.__setattr__(self, "_r", remote)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_typename", typename)

    def _target(self):
        return self._name

    def __getattr__(self, name):
        if name == "__name__" or name == "__qualname__":
            return self._name
        return _Proxy.__getattr__(self, name)


class Handle(_Proxy):
    """Any other object of the candidate's, valid while its worker lives."""

    __slots__ = ("_gen", "_hid")

    def __init__(self, remote, gen, hid, typename, kind):
        object.__setattr__(self, "_r", remote)
        object.__setattr__(self, "_gen", gen)
        object.__setattr__(self, "_hid", hid)
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_typename", typename)

    def _target(self):
        if self._gen != self._r.gen or self._r.sock is None:
            raise CandidateCrashed("an object of a process of the code that has ended")
        return ["h", self._hid, self._typename, self._kind]
