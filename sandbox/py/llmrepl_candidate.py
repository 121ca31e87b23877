"""llmrepl_candidate - the side of an evaluation where the code under test runs.

The sandbox starts the factory (`llmrepl_entry.py --factory`) beside the
entry, under a uid of its own, with one end of a SOCK_SEQPACKET socketpair
on fd 3; the judge (the harness in the entry's process) holds the other end
on fd 10. The factory holds no request, no tests and no answer descriptor.

Factory protocol (one datagram each):
  judge -> factory  "NEW <cpu_s> <memory_mb> <nproc> <fsize_mb> <nofile>"
                    with 3 fds: a stream socket, stdout, stderr, then (pool)
                    the run's cgroup.procs files, which the worker joins
                    -> a worker is forked that serves that socket
  judge -> factory  "KILL"   every process of this uid but the factory dies
  server -> factory "CLEAN"  KILL, then /work and /tmp are emptied of what
                    this uid made (pool: between runs)
  judge -> factory  "END"    (pool) the judge is done with the code: the
                    same as CLEAN, now, while the judge writes its answer
                    and exits, and without an answer; every CLEAN with no
                    NEW since is then answered at once. It may come with one
                    fd (a pipe's write end), closed as soon as every
                    process of this uid is dead (before the wipe)
  factory -> asker  "OK"     after KILL and CLEAN

In a pool the factory's spare (the next worker, forked ahead) reads these
itself once it is ready ("the door", see _Spare): a NEW reaches it with no
hop through the factory, which learns of it afterwards; a CLEAN or END with
nothing to do it answers itself; anything else it hands to the factory.

A worker runs the code and answers calls over its socket in the encoding of
llmrepl_wire; see Worker.
"""
import io
import os
import select
import signal
import socket
import sys
import time
import types

import llmrepl_wire as wire

FACTORY_FD = 3
REPEAT_S = 0.1
# The factory waited longer than this for a CPU between two clean-ups: the
# CPUs are busy and its next spare does not rehearse (_spare_main). Idle, a
# cycle's three wake-ups wait tens of microseconds; with two pools' runs on
# two CPUs, milliseconds.
BUSY_WAIT_NS = 1000000
NAME_VALUE_MAX = 64 << 10
OUT_MAX = 16 << 20  # characters of each stream kept per call (the judge's cap + 1)


class StepTimeout(BaseException):
    """Raised in the code when the judge's deadline for a call is up."""


# ---- the factory ---------------------------------------------------------------

def factory_main(wipe, set_limits, second=False):
    """Serve the judge (and the pool's server) on fd 3. The entry's own
    helpers are passed in: wipe(path) empties a directory, set_limits(lim)
    sets a run's rlimits. second: the pool's second factory, under a uid of
    its own, which only grouped items ask, in turn with the first
    (llmrepl_judge.take_turn): its spare waits for the item after next."""
    import gc
    if os.geteuid() == 0:
        # Only the sandbox starts a factory, under an unprivileged uid.
        raise SystemExit("llmrepl_candidate: the candidate factory never runs as root")
    sock = socket.socket(fileno=FACTORY_FD)
    # Not dumpable (exec made it dumpable again): the workers, its uid too,
    # cannot open its /proc files (memory, fds: the run's cgroups).
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
    _warm_imports()
    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # No worker before the first request: in a cold run the sandbox's init
    # moves this process into the run's cgroups while it starts, and what it
    # forked before that would stay outside them.
    spare = None
    cgroups = []
    # Nothing of the candidate's since the last END's clean-up (or since the
    # start: a factory no NEW came to, the second one beside single runs,
    # answers the server's CLEANs at once, with no clean-up or spare).
    clean = True
    lanes = {}  # the run cgroups seen, by their files' identity (a pool's lanes)
    last = None
    filled = False
    delayed = None  # this process's time waiting for a CPU (ns), at the last END
    busy = False  # the CPUs were busy then (_run_delay)
    grouped = False  # the last two NEWs were one run's, the other lane idle
    door_ok = True  # the spare may have the door (not between an END and a CLEAN)
    while True:
        took, held = False, isinstance(spare, _Spare) and spare.at_door
        try:
            if held:
                # The spare holds the door (reads fd 3 itself): it tells
                # what it took, or hands over what is not its to answer.
                took, msg, fds = spare.relay()
                if msg is None:
                    spare = True  # it ended: the door is this process's again
                    continue
            else:
                if isinstance(spare, _Spare) and door_ok:
                    # Until the spare is ready for the door (its rehearsal
                    # and the rest done), this process answers what comes,
                    # but a NEW: that waits for the spare (which sees it and
                    # hurries), and the spare takes it at the door. (After
                    # an END, until the CLEAN that follows it, this process
                    # reads the door itself: it answers that CLEAN sooner
                    # than a fresh fork, and sooner with a plain read.)
                    ready = select.select([sock, spare.sock], [], [])[0]
                    if spare.sock in ready or _peek(sock) == b"NEW":
                        if not spare.ready():
                            spare = True  # it ended before the door
                        continue
                msg, fds, _flags, _addr = socket.recv_fds(sock, 4096, 7)
        except InterruptedError:
            continue
        except OSError:
            os._exit(0)
        if not msg:
            _kill_all()
            os._exit(0)
        words = msg.decode("ascii", "replace").split()
        if words and words[0] == "NEW" and len(words) == 6 and len(fds) >= 3:
            if second:
                # A grouped item's (the other factory has the items between
                # this one and the next here, which is the same run's or a
                # later one's): the spare joins the run's cgroups at its GO,
                # and is forked after the group's CLEAN.
                cgroups = []
                grouped = True
            elif len(fds) > 3:
                # The pool's run cgroups stay the same from run to run (or
                # alternate between its two lanes): kept, so that the next
                # spare joins them while it waits (a move can cost an RCU
                # grace period, ~10 ms on cgroup v1); it moves again if the
                # run's are others (_spare_main).
                key = _cgroups_key(fds[3:])
                again = key == last
                last = key
                grouped = False
                if last not in lanes and len(lanes) < 2:
                    lanes[last] = [os.dup(fd) for fd in fds[3:]]
                other = [v for k, v in lanes.items() if k != last]
                if not other:
                    cgroups = lanes[last]
                elif again:
                    # This run's again (a grouped run's items): its next
                    # NEW is likely this run's too, whose cgroups a spare
                    # may not wait in (the server counts them empty after
                    # its run), so the spare joins at its GO, once, not
                    # the other lane's ahead and then these.
                    cgroups = []
                    grouped = True
                else:
                    # The next run's: the other lane's.
                    cgroups = other[0]
            if took:
                pass
            elif isinstance(spare, _Spare) and spare.ready(msg, fds):
                pass  # (read here between an END and its CLEAN: given to the spare)
            else:
                # No spare waiting: a fresh fork, given the NEW.
                _Spare(sock, set_limits, (), door=False).go(msg, fds)
            # No spare forked now: the run's end (CLEAN) or a restart
            # (KILL) kills every process of this uid, a spare too.
            spare = None
            clean = False
        elif words == ["KILL"]:
            door_ok = True
            _kill_all()
            sock.send(b"OK")
            spare = True
            clean = False
        elif words == ["END"] or words == ["CLEAN"]:
            door_ok = words == ["CLEAN"]
            # END: the judge has closed its worker, so clean up now, off the
            # run's way to its DONE. Only the spare forked next exists after
            # that and it runs nothing before a NEW: the server's CLEAN that
            # follows has nothing left to do.
            if not clean:
                _kill_all()
                # END's pipe (llmrepl_judge.ended): closed now, before the
                # wipe, tells the judge nothing of the candidate's runs.
                for fd in fds:
                    os.close(fd)
                fds = []
                wipe("/work")
                wipe("/tmp")
                if not filled:
                    # A pool's factory (a cold run's forks one worker):
                    # once, ~1 ms, before its first spare.
                    _fill_free_blocks()
                    filled = True
                # How long this process waited for a CPU since the last
                # clean-up: the next spare rehearses only when that was
                # short (its rehearsal's CPU would be taken from others).
                delay, waited = _run_delay(), None
                if delay is not None and delayed is not None:
                    waited = delay - delayed
                delayed = delay
                busy = waited is not None and waited > BUSY_WAIT_NS
                # A grouped run's item: the group's CLEAN follows at once.
                # It is answered first and the spare forked after it: the
                # fork off the CLEAN's path, and the CLEAN's handling here
                # before any child shares this process's pages.
                spare = "after CLEAN" if words == ["END"] and grouped else True
            # Nothing of the candidate's has run since a clean-up until the
            # next NEW: a CLEAN then (the group's, then the server's) is
            # answered at once.
            clean = clean or words == ["END"]
            if words == ["CLEAN"]:
                sock.send(b"OK")
                if spare == "after CLEAN":
                    spare = True
        for fd in fds:
            if fd >= 0:
                os.close(fd)
        if held and isinstance(spare, _Spare):
            spare.resume()  # what it handed over left it as it was
        if spare is True:
            # From the first request on, the next worker waits forked ahead
            # of the next request, off its path, holding the door.
            spare = _Spare(sock, set_limits, cgroups, not busy, clean=clean)


class _Spare:
    """A worker forked ahead of time, waiting for its socket, streams,
    cgroups and limits ("GO"). With the door (a pool's factory, from its
    first request on) it reads the factory's socket itself until a NEW
    comes, so that the judge's NEW reaches it with no hop through the
    factory, which meanwhile waits on the spare's own socket (relay): the
    spare says "T" (took a NEW; the run's cgroup fds with it), or hands
    over anything else ("F" + the message, its fds) and waits for "ON"
    (the factory's handling left it alive) before it reads on. A CLEAN or
    END while nothing of the candidate's has run since the last clean-up
    (clean: this spare was forked after it) it answers itself, as the
    factory would: at once, nothing to do. Without the door it is given
    its NEW on its own socket (go). It takes the door only when ready for
    it ("R", then the factory's "D"), so that a CLEAN that comes while it
    rehearses is answered by the factory meanwhile; a NEW that comes before
    stays at the door (the spare looks for one and skips what it has not
    done yet), and the factory waits for the spare's "R"."""

    def __init__(self, ctl, set_limits, cgroups, rehearse=True, door=True, clean=False):
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.at_door = False
        self.pid = os.fork()
        if self.pid == 0:
            try:
                if not door:
                    ctl.close()
                mine.close()
                os.setsid()
                for fd in cgroups:
                    os.write(fd, b"0")
                joined = _cgroups_key(cgroups) if cgroups else None
                for fd in cgroups:
                    os.close(fd)
                _spare_main(theirs, set_limits, joined, rehearse,
                            (ctl, clean) if door else None)
            except BaseException:  # noqa: BLE001 - the judge sees the socket close
                try:
                    sys.__excepthook__(*sys.exc_info())
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                os._exit(0)
        theirs.close()
        self.sock = mine

    def alive(self):
        try:
            return os.waitpid(self.pid, os.WNOHANG)[0] == 0
        except ChildProcessError:
            return False

    def go(self, msg, fds):
        try:
            socket.send_fds(self.sock, [msg], fds)
            return True
        except OSError:
            return False
        finally:
            self.sock.close()

    def ready(self, msg=None, fds=()):
        """The spare asks for the door ("R", waited for): "D" gives it, or
        the NEW this process read (msg, fds; the spare's socket is closed
        then). False when it ended instead."""
        try:
            if self.sock.recv(16) == b"R":
                if msg is not None:
                    socket.send_fds(self.sock, [msg], fds, socket.MSG_NOSIGNAL)
                    self.sock.close()
                    return True
                self.sock.send(b"D", socket.MSG_NOSIGNAL)
                self.at_door = True
                return True
        except OSError:
            pass
        self.sock.close()
        return False

    def relay(self):
        """What the spare at the door says: (took, message, fds); took with
        the NEW's cgroup fds after three placeholders (the rest is the
        spare's); message None when it ended without a word."""
        while True:
            try:
                m, fds, _flags, _addr = socket.recv_fds(self.sock, 4096 + 1, 7)
                break
            except InterruptedError:
                continue
            except OSError:
                m, fds = b"", []
                break
        if m[:1] == b"T":
            self.sock.close()
            return True, b"NEW" + m[1:], [-1, -1, -1] + fds
        if m[:1] == b"F":
            return False, m[1:], fds
        for fd in fds:
            os.close(fd)
        self.sock.close()
        return False, None, []

    def resume(self):
        try:
            self.sock.send(b"ON", socket.MSG_NOSIGNAL)
        except OSError:
            pass


def _door(ctl, relay, clean):
    """The spare at the factory's door (see _Spare): the NEW's message and
    fds, once one comes."""
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctl, 4096, 7)
        except InterruptedError:
            continue
        except OSError:
            msg, fds = b"", []
        words = msg.decode("ascii", "replace").split()
        if words and words[0] == "NEW" and len(words) == 6 and len(fds) >= 3:
            # The factory keeps the run's cgroups (its lanes); the words
            # after NEW tell it nothing it needs, but keep the message whole.
            if len(fds) > 3:
                socket.send_fds(relay, [b"T" + msg[3:]], fds[3:], socket.MSG_NOSIGNAL)
            else:
                relay.send(b"T" + msg[3:], socket.MSG_NOSIGNAL)
            return msg, fds
        if clean and words in (["CLEAN"], ["END"]):
            for fd in fds:
                os.close(fd)
            if words == ["CLEAN"]:
                ctl.send(b"OK", socket.MSG_NOSIGNAL)
            continue
        try:
            socket.send_fds(relay, [b"F" + msg], fds, socket.MSG_NOSIGNAL)
        finally:
            for fd in fds:
                os.close(fd)
        if relay.recv(16) != b"ON":
            os._exit(0)


def _cgroups_key(fds):
    """The identity of the cgroup files fds are open on."""
    key = []
    for fd in fds:
        st = os.fstat(fd)
        key.append((st.st_dev, st.st_ino))
    return tuple(key)


def _spare_main(sock, set_limits, joined, rehearse, door=None):
    ahead = None
    worker = None
    if not _pending(sock) and not (door and _peek(door[0]) == b"NEW"):
        # Nothing asked yet: a canned load and call first (_rehearse) unless
        # the CPUs are busy, then what the limits need to know of this
        # process, and the worker as serving it starts (work the request
        # would do first anyway, ~0.2 ms in a fresh fork: no more CPU).
        if rehearse:
            _rehearse()
        ahead = _limits_ahead()
        worker = Worker(None)
        worker.prepare()
    if door is not None:
        # Ready: the door ("D" once the factory has read the "R"), or the
        # NEW the factory read itself.
        sock.send(b"R", socket.MSG_NOSIGNAL)
        msg, fds = wire.recv_fds(sock, 7)
        if msg == b"D":
            msg, fds = _door(door[0], sock, door[1])
        door[0].close()
    else:
        msg, fds = wire.recv_fds(sock, 7)
    sock.close()
    if len(fds) < 3:
        return
    lim = tuple(int(w) for w in msg.decode("ascii").split()[1:6])
    # Into the run's cgroups first (unless joined ahead to these very ones):
    # never run outside the run's limits.
    if joined != _cgroups_key(fds[3:]):
        for fd in fds[3:]:
            os.write(fd, b"0")
    for fd in fds[3:]:
        os.close(fd)
    s, out, err = fds[:3]
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.dup2(s, 3)
    os.closerange(4, 1 << 16)
    set_limits(lim, ahead)
    worker = worker or Worker(None)
    worker.sock = socket.socket(fileno=3)
    worker.serve()


def _run_delay():
    """The time this process has waited for a CPU (ns; /proc/self/schedstat,
    the scheduler's run_delay), or None. A pool's cycle (END, CLEAN, NEW)
    wakes the factory three times: on idle CPUs each finds one at once."""
    try:
        fd = os.open("/proc/self/schedstat", os.O_RDONLY | os.O_CLOEXEC)
        try:
            return int(os.read(fd, 128).split()[1])
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return None


def _peek(sock):
    """The first three bytes of the message waiting on sock (b"" when none;
    a NEW's fds stay with it)."""
    try:
        return sock.recv(3, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except OSError:
        return b""


def _pending(sock):
    """Whether a message waits on the spare's socket."""
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        return False
    except OSError:
        return True  # its end: the recv tells


def _limits_ahead():
    """llmrepl_pool.limits_ahead (what set_limits needs to know of this
    process), when the factory runs the pool's (a cold run's factory has
    its own limits set already)."""
    pool = sys.modules.get("llmrepl_pool")
    try:
        return pool.limits_ahead() if pool is not None else None
    except Exception:  # noqa: BLE001 - set_limits reads them itself then
        return None


# A worker's first load and call, rehearsed on trusted code of our own (see
# _rehearse): the name is one no code under test is told of, and it is gone
# from this process before the spare takes its request.
_CANNED = "def _llmrepl_canned(x, y=1):\n    return [x, str(x), (y, 2.5), {'k': None}]\n"
_CANNED_MODULE = "_llmrepl_canned"


def _rehearse():
    """A worker forked from the factory first writes to pages it shares with
    it (reference counts, the allocator's pools, the harness's code and
    objects): each write copies a page, ~2 us here, ~500 of them before its
    first answer. The spare waits for its request, so it takes them now:
    the protocol's own path (a load, a call, their answers framed and read
    back) on trusted code of ours, with no socket. Nothing of it stays:
    the module is dropped and its objects freed, the timer off."""
    w = Worker(None)
    try:
        for msg in (["load", _CANNED, _CANNED_MODULE, 10.0, 100],
                    ["call", "_llmrepl_canned", [["i", "3"]], [["y", ["s", "a"]]], 10.0]):
            wire.unpack(wire.pack(w.one(wire.unpack(wire.pack(msg)[4:])))[4:])
    except Exception:  # noqa: BLE001 - only speed is lost
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.modules.pop(_CANNED_MODULE, None)
        w.ns = w.objs = w.ids = None
        # The canned function and its module's globals form a cycle: freed
        # now, so that no object of it is left for the code to find.
        import gc
        gc.collect()


# What code under test commonly imports (HumanEval's prompts import typing,
# math, re, collections...): imported once here, so that each worker finds
# them in memory, as code run in the pool's own process does.
WARM = ("typing", "math", "re", "collections", "itertools", "functools", "heapq", "bisect",
        "string", "random", "hashlib", "datetime", "fractions", "decimal", "statistics",
        "copy", "operator", "dataclasses", "enum", "numbers", "array", "textwrap",
        "unicodedata", "struct", "traceback", "inspect")


def _warm_imports():
    import resource  # noqa: F401  (a shared object: set_limits in every worker)
    for name in WARM:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - only speed is lost
            pass


_FILLED = []  # objects that hold the allocator's free blocks (_fill_free_blocks)
FILL_ROUNDS = 3  # filling a size class can take a new pool, with free blocks of its own


def _fill_free_blocks():
    """Take the free blocks of the allocator's partly used pools, kept for
    the factory's life: a worker's new objects then go to pools of its
    own, on pages no other process maps, instead of into the factory's,
    where each first write copies a page shared with it (~3 us each here;
    a worker's load and call write ~35 fewer shared pages, ~0.1 ms of its
    CPU). A few hundred kB, once; nothing when the allocator's figures
    cannot be read (another Python, another allocator)."""
    for _ in range(FILL_ROUNDS):
        free = _free_blocks()
        for size, n in free.items():
            if size == 16:
                _FILLED.extend(object() for _ in range(n))
            elif size == 32:
                _FILLED.extend(float(i) + 0.5 for i in range(n))
            elif size >= 48:
                # A bytes object of k bytes takes a block of k + 33.
                _FILLED.extend(bytes(size - 33) for _ in range(n))
        if not free:
            return


def _free_blocks():
    """{block size: free blocks in pools in use} from
    sys._debugmallocstats (which writes them to fd 2, read through a pipe
    here); {} when they cannot be told."""
    stats = getattr(sys, "_debugmallocstats", None)
    if stats is None:
        return {}
    try:
        r, w = os.pipe()
    except OSError:
        return {}
    data = b""
    try:
        # ~4 kB, far below what the pipe holds; written without blocking
        # all the same (what does not fit is lost, never waited for).
        os.set_blocking(w, False)
        saved = os.dup(2)
        try:
            os.dup2(w, 2)
            os.close(w)
            w = -1
            stats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        # Every write end is closed now: read to the end.
        data = b"".join(iter(lambda: os.read(r, 1 << 16), b""))
    except OSError:
        pass
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    free = {}
    for line in data.decode("ascii", "replace").splitlines():
        words = line.split()
        # "class size pools blocks-in-use free-blocks"
        if len(words) == 5 and all(x.isdigit() for x in words):
            size, n = int(words[1]), int(words[4])
            if size % 16 == 0 and 16 <= size <= 512 and 0 < n < 1 << 20:
                free[size] = n
    return free


def _kill_all():
    """Every process of this uid but this one, and their zombies. Only ever
    as the sandbox's unprivileged candidate uid: kill(-1) as root would
    reach every process of the machine."""
    if os.geteuid() == 0:
        raise SystemExit("llmrepl_candidate: refusing kill(-1) as root")
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        try:
            # Blocking: each wait ends with a death, and the next kill(-1)
            # reaches whatever was forked meanwhile.
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


# ---- a worker --------------------------------------------------------------------

class _Capture(io.TextIOBase):
    def __init__(self):
        super().__init__()
        self.parts = []
        self.size = 0
        self.cap = OUT_MAX

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if self.size < self.cap:
            self.parts.append(s[:self.cap - self.size])
            self.size += len(self.parts[-1])
        return len(s)

    def take(self):
        text = "".join(self.parts)
        self.parts = []
        self.size = 0
        return text


_OPS = {
    "len": len, "iter": iter, "next": next, "bool": bool, "repr": repr, "str": str,
    "getattr": getattr, "setattr": setattr, "delattr": delattr, "hash": hash,
    "getitem": lambda o, k: o[k], "setitem": lambda o, k, v: o.__setitem__(k, v),
    "delitem": lambda o, k: o.__delitem__(k), "contains": lambda o, k: k in o,
    "call": lambda o, *a, **kw: o(*a, **kw),
    "callmethod": lambda o, name, *a, **kw: getattr(o, name)(*a, **kw),
}
for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "neg", "pos", "abs",
              "and", "or", "xor", "lshift", "rshift", "invert", "radd", "rsub", "rmul",
              "eq", "ne", "lt", "le", "gt", "ge", "enter", "exit", "round", "int", "float",
              "index"):
    _OPS[_name] = (lambda n: lambda o, *a: getattr(o, "__%s__" % n)(*a))(_name)


class _Callback:
    """A callable of the tests' (a "callback" handle): calling it asks the
    judge to run it on the arguments, sent as data (or handles of this
    process's objects); what comes back is data too."""

    __slots__ = ("_w", "_cid", "__name__")

    def __init__(self, worker, cid, name):
        self._w = worker
        self._cid = cid
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        return self._w.callback(self._cid, args, kwargs)

    def __repr__(self):
        return "<function %s of the tests>" % self.__name__


def _raised(names, message, frames=()):
    """An exception the tests' callable raised, for the code to catch: the
    first builtin Exception class along its names, else RemoteException."""
    import builtins
    for n in names:
        c = getattr(builtins, n, None)
        if isinstance(c, type) and issubclass(c, Exception):
            try:
                return c(message)
            except Exception:  # noqa: BLE001 - constructors with other arguments
                break
    return wire.RemoteException(names, message)


class Worker:
    """Serves one judge: ["load", code, module], ["call", target, args,
    kwargs, timeout_s], ["op", handle id, op, args, timeout_s], ["free", ids],
    ["example", docstring number, source, filename, timeout_s] (see example).
    Answers ["ok", value, stdout, stderr] or ["raise", exception, stdout,
    stderr] (a load answers its globals as {name: value} or ["mod", name]).
    While the code calls a callable of the tests' it sends ["cb", id, args,
    kwargs] and serves the judge's requests until ["cbok", value] or
    ["cbraise", exception] comes back."""

    def __init__(self, sock):
        self.sock = sock
        self.objs = {}
        self.ids = {}
        self.next_id = 1
        self.ns = None
        self.out = _Capture()
        self.err = _Capture()
        self.deadline = None
        self.handled = 0  # values that went out as handles
        self.doc = None  # (the docstring's number, its examples' globals)
        self.prepared = False

    def handle(self, obj):
        self.handled += 1
        i = self.ids.get(id(obj))
        if i is None or self.objs.get(i) is not obj:
            i = self.next_id
            self.next_id += 1
            self.objs[i] = obj
            self.ids[id(obj)] = i
        return i

    def lookup(self, i, name, kind):
        if kind == "callback":
            return _Callback(self, i, name)
        try:
            return self.ns[name] if kind == "global" else self.objs[i]
        except KeyError:
            raise wire.WireError("no such handle") from None

    def dec(self, v):
        return wire.Decoder(self.lookup,
                            lambda names, msg, fr: wire.RemoteException(names, msg)).dec(v)

    def enc(self, x):
        return wire.encode(x, self.handle)

    def on_alarm(self, signum, frame):
        if self.deadline is None:
            return
        signal.setitimer(signal.ITIMER_REAL, REPEAT_S)
        raise StepTimeout("the call exceeded its time limit")

    def prepare(self):
        """What serving sets up first, which a spare does ahead of its GO."""
        signal.signal(signal.SIGALRM, self.on_alarm)
        sys.stdin = io.StringIO("")
        self.prepared = True

    def serve(self):
        if not self.prepared:
            self.prepare()
        sys.stdout, sys.stderr = self.out, self.err
        while True:
            try:
                msg = wire.recv(self.sock)
            except (EOFError, OSError, wire.WireError):
                return
            reply = self.one(msg)
            if reply is None:
                continue
            try:
                wire.send(self.sock, reply)
            except (OSError, wire.WireError, ValueError):
                try:
                    wire.send(self.sock, ["raise", ["e", ["WireError", "Exception"],
                                                    "the value could not be sent"], "", ""])
                except (OSError, wire.WireError, ValueError):
                    return

    def callback(self, cid, args, kwargs):
        msg = ["cb", cid, [self.enc(x) for x in args],
               [[str(k), self.enc(v)] for k, v in kwargs.items()]]
        wire.send(self.sock, msg)
        while True:
            m = wire.recv(self.sock)
            if type(m) is not list or not m:
                raise wire.WireError("malformed message")
            if m[0] == "cbok" and len(m) == 2:
                return self.dec(m[1])
            if m[0] == "cbraise" and len(m) == 2:
                raise wire.Decoder(self.lookup, _raised).dec(m[1])
            # The tests' callable calls the code again: served here.
            reply = self.one(m)
            if reply is not None:
                wire.send(self.sock, reply)

    def one(self, msg):
        kind = msg[0]
        if kind in ("cbok", "cbraise"):
            return None  # the answer to a callback given up on (a timeout)
        if kind == "free":
            for i in msg[1] if type(msg[1]) is list else ():
                obj = self.objs.pop(i, None)
                if obj is not None:
                    self.ids.pop(id(obj), None)
            return ["ok", ["n"], "", ""]
        if kind == "load" and len(msg) in (5, 6):
            # One character past what the judge keeps, so that it sees the cut.
            if type(msg[4]) is int and 0 <= msg[4] <= OUT_MAX:
                self.out.cap = self.err.cap = msg[4] + 1
            cells = msg[5] if len(msg) == 6 and type(msg[5]) is list else None
            return self.load(msg[1], msg[2], msg[3], cells)
        if kind == "call" and len(msg) == 5:
            return self.guard(msg[4], lambda: self.call(msg))
        if kind == "calls" and len(msg) == 2 and type(msg[1]) is list:
            self.calls(msg[1])
            return None
        if kind == "op" and len(msg) == 6:
            return self.guard(msg[5], lambda: self.op(msg))
        if kind == "example" and len(msg) == 5 and type(msg[2]) is str and type(msg[3]) is str:
            return self.example(msg[1], msg[2], msg[3], msg[4])
        return ["raise", ["e", ["ProtocolError", "Exception"], "unknown request"], "", ""]

    def calls(self, row):
        """Calls the judge sent ahead (llmrepl_judge.Remote.send_ahead), each
        [target, args, kwargs, timeout_s]: run and answered in order as if
        sent one by one, each answer with a fifth element, true when it is
        the row's last: its value went out as a handle, which the tests may
        use before their next call, so the rest are not run here (the judge
        sends them one by one)."""
        for i, c in enumerate(row):
            if type(c) is not list or len(c) != 4:
                return
            made = self.handled
            reply = self.guard(c[3], lambda c=c: self.call(["call"] + c))
            stop = self.handled != made and i + 1 < len(row)
            wire.send(self.sock, reply + [stop])
            if stop:
                return

    def guard(self, timeout, fn):
        if self.deadline is not None:
            # A request within a callback: the outer call's timer stands.
            try:
                return ["ok", self.enc(fn()), "", ""]
            except BaseException as e:  # noqa: BLE001 - the code's own failure
                return ["raise", self._exc(e), "", ""]
        try:
            timeout = float(timeout)
        except (TypeError, ValueError):
            timeout = 1.0
        import gc
        gc.enable()
        self.deadline = time.monotonic() + timeout
        signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.001))
        try:
            try:
                value = fn()
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                self.deadline = None
            return ["ok", self.enc(value), self.out.take(), self.err.take()]
        except BaseException as e:  # noqa: BLE001 - the code's own failure
            signal.setitimer(signal.ITIMER_REAL, 0)
            self.deadline = None
            return ["raise", self._exc(e), self.out.take(), self.err.take()]

    def _exc(self, e):
        try:
            exc = wire.Encoder(self.handle).enc_exc(e)
            exc.append(_frames(e))
        except BaseException:  # noqa: BLE001
            exc = ["e", ["Exception"], "an exception that could not be described", []]
        return exc

    def load(self, code, module, timeout, cells=None):
        mod = types.ModuleType(module if isinstance(module, str) else "solution")
        ns = mod.__dict__
        ns["__file__"] = mod.__name__ + ".py"
        ns["__builtins__"] = __builtins__
        sys.modules[mod.__name__] = mod
        self.ns = ns
        self.doc = None

        def run():
            if cells:
                # A session's cells: on this side, in the code's globals.
                import llmrepl_session
                llmrepl_session.replay(cells, ns, StepTimeout)
            try:
                exec(compile(code, "<solution>", "exec", dont_inherit=True), ns)
            except SystemExit as e:
                if e.code not in (None, 0):
                    raise
            return None

        r = self.guard(timeout, run)
        if r[0] != "ok":
            return r
        names = {}
        for name, value in list(ns.items()):
            if not isinstance(name, str) or name.startswith("__"):
                continue
            if isinstance(value, types.ModuleType):
                names[name] = ["mod", str(getattr(value, "__name__", name))]
            elif isinstance(value, type) and issubclass(value, BaseException):
                names[name] = ["excclass", [wire._clip(getattr(c, "__name__", ""), wire.NAME_MAX)
                                            for c in value.__mro__[:16]]]
            else:
                # Small values travel with the names; others on first use.
                names[name] = wire.encode(value, self.handle, NAME_VALUE_MAX)
        r[1] = ["names", names]
        return r

    def example(self, doc, source, filename, timeout):
        """One example of the code's own docstrings, run here as doctest
        runs it: compiled in "single" mode, in a copy of the code's globals
        shared by the examples of one docstring (doc, the judge's number for
        it). Answered as a call is, with a fifth element: the exception's
        last line as traceback.format_exception_only gives it (what doctest
        compares an expected exception with), or None. The judge compares
        the output itself: only data goes back."""
        if self.doc is None or self.doc[0] != doc:
            self.doc = (doc, dict(self.ns or {}))
        globs = self.doc[1]
        text = [None]

        def run():
            try:
                exec(compile(source, filename, "single", _future_flags(globs), True), globs)
            except StepTimeout:
                raise
            except BaseException as e:  # noqa: BLE001 - the example's outcome
                import traceback
                text[0] = traceback.format_exception_only(type(e), e)[-1]
                raise

        r = self.guard(timeout, run)
        return r + [text[0] if r[0] == "raise" else None]

    def call(self, msg):
        target, args, kwargs = msg[1], msg[2], msg[3]
        if type(target) is str:
            fn = self.ns[target]
        else:
            fn = self.dec(target)
        a = [self.dec(x) for x in args]
        kw = {k: self.dec(v) for k, v in kwargs}
        return fn(*a, **kw)

    def op(self, msg):
        obj = self.ns[msg[1]] if type(msg[1]) is str else self.dec(msg[1])
        name = msg[2]
        fn = _OPS[name]
        args = [self.dec(x) for x in msg[3]]
        kw = {k: self.dec(v) for k, v in msg[4]}
        return fn(obj, *args, **kw)


def _future_flags(globs):
    """The compiler flags of the __future__ features imported into globs
    (as doctest's own _extract_future_flags)."""
    import __future__
    flags = 0
    for name in __future__.all_feature_names:
        feature = globs.get(name)
        if feature is getattr(__future__, name):
            flags |= feature.compiler_flag
    return flags


def _frames(e):
    out = []
    tb = e.__traceback__
    while tb is not None and len(out) < 40:
        co = tb.tb_frame.f_code
        if co.co_filename == "<solution>":
            out.append([tb.tb_lineno, str(co.co_name)[:100]])
        tb = tb.tb_next
    return out[-12:]
