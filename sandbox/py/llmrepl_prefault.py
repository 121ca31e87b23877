"""llmrepl_prefault - a pool's spare takes its judge's page copies ahead.

A spare is a fresh fork of the pool's server: its evaluation writes to
hundreds of pages it shares with the server (reference counts of the
harness's functions, code objects and types, the allocator's partly used
pools), and each first write copies a page (~3 us here, ~700 of them per
judge: about 2 ms of a judge's 5). The spare waits for its request anyway
(with two lanes, beside the run before it), so it takes those copies then:

  calibrate()  in the server, once, before the first spare: a child forked
               from it runs one evaluation of built-in, trusted code and
               tests through the harness (rehearse(): the path a request
               takes, the request's JSON read, the parse, the plan, the
               runner, the report, the answer's JSON; split as requests are
               when there is a candidate factory) and tells the server which
               of its pages it wrote (now its own: /proc/self/pagemap's
               "exclusively mapped"); then it exits.
  populate()   in each spare, before its request: those pages copied in
               one madvise(MADV_POPULATE_WRITE) per run of them, inside the
               kernel, with no fault per page, and nothing run.

No request's data takes part: the pages are those of the canned rehearsal in
a child that never saw a request, and all a spare does with them is copy
them. The candidate's side of the rehearsal is not the factory (nothing is
sent to it, it serves the runs): a candidate Worker of the rehearsal's own
answers in the child, on the canned code only, through an in-memory loop in
place of the socket (_Loop). Code under test never runs there.
"""
import gc
import os
import struct
import sys

import llmrepl_candidate
import llmrepl_harness
import llmrepl_judge
import llmrepl_sbx as sbx
import llmrepl_wire as wire

MODULE = "_llmrepl_canned"
CODE = '''from typing import List


def _llmrepl_canned(xs: List[int], n: int = 1) -> List[int]:
    """ Every x of xs times n.
    >>> _llmrepl_canned([1, 2], 2)
    [2, 4]
    """
    return [x * n for x in xs]
'''
# Passing and failing cases both (a bare prompt fails every case), a
# message, a float, a string: the report's paths of either outcome.
TESTS = '''METADATA = {"author": "llm-repl", "dataset": "canned"}


def check(candidate):
    assert candidate([1, 2], 2) == [2, 4]
    assert candidate([], 3) == []
    assert abs(candidate([1.5])[0] - 1.5) < 1e-6
    assert candidate(["a"], 2) == ["aa"], "strings repeat"
    assert candidate([3]) == [4], "this case fails"
    assert True
'''
REQUEST = sbx.dumps({"mode": "evaluate", "code": CODE, "tests": TESTS, "entry_point": MODULE,
                     "static": False, "split": True, "module": MODULE, "budget_s": 5.0,
                     "test_timeout_s": 2.0, "max_output": 65536,
                     "candidate_limits": [3, 256, 16, 16, 64]})


class _NoFactory:
    """The factory's socket as a rehearsal's Remote sees it: every request
    answered, nothing sent anywhere."""

    def send(self, data, flags=0):
        return len(data)

    def recv(self, n):
        return b"OK"

    def settimeout(self, t):
        pass

    def close(self):
        pass


class _WorkerEnd:
    """The worker's end of a _Loop: what it sends goes to the judge's inbox."""

    def __init__(self, loop):
        self.loop = loop

    def sendall(self, data):
        self.loop.inbox += data


class _Loop:
    """The judge's socket to its worker, in this process: each whole message
    the judge sends is answered at once by a candidate Worker (on the
    canned code), whose answers wait in the inbox for the judge's recv."""

    def __init__(self):
        self.inbox = bytearray()
        self.outbox = bytearray()
        self.worker = llmrepl_candidate.Worker(_WorkerEnd(self))

    def setsockopt(self, *args):
        pass

    def sendall(self, data):
        self.outbox += data
        while len(self.outbox) >= 4:
            (n,) = struct.unpack_from("<I", self.outbox)
            if len(self.outbox) < 4 + n:
                return
            msg = wire.unpack(bytes(self.outbox[4:4 + n]))
            del self.outbox[:4 + n]
            reply = self.worker.one(msg)
            if reply is not None:
                self.inbox += wire.pack(reply)

    def recv(self, n):
        data = bytes(self.inbox[:n])  # b"" when empty: the other side's end
        del self.inbox[:n]
        return data

    def close(self):
        self.worker.ns = None


class _Rehearsal(llmrepl_judge.Remote):
    """A Remote whose worker is a _Loop: the judge's path, no process."""

    def __init__(self, opts, timeout_fn, lim=None):
        super().__init__(opts, timeout_fn, lim, ctl=_NoFactory())

    def _start(self):
        if self.dead is not None:
            raise llmrepl_judge.CandidateCrashed(self.dead)
        self.sock = _Loop()
        self.gen += 1


def rehearse():
    """One canned evaluation, as a request would run it (see the module's
    doc); True when it answered as expected."""
    import signal
    collecting = gc.isenabled()
    alarm = signal.getsignal(signal.SIGALRM)
    remote, llmrepl_harness.REMOTE = llmrepl_harness.REMOTE, _Rehearsal
    ok = False
    try:
        req = sbx.loads(REQUEST)
        # Split as requests are when there is a factory; without, in process
        # (a split request would answer "unsplittable", having run nothing).
        req["split"] = llmrepl_judge.available()
        answer = llmrepl_harness.evaluate(req)
        text = sbx.dumps(answer)
        import json
        json.dumps(answer, default=str)  # as sbx.run_evaluate writes it
        ok = answer.get("tests_total", 0) > 0 and answer.get("integrity") in (
            "split", "in_process") and bool(text)
    except Exception:  # noqa: BLE001 - only speed is lost
        pass
    finally:
        llmrepl_harness.REMOTE = remote
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, alarm)
        sys.modules.pop(MODULE, None)
        # What the rehearsal made and left in cycles (frames, the proxies
        # and their Remote) is freed now, not seen by the request.
        gc.collect()
        if collecting:
            gc.enable()
        else:
            gc.disable()
    return ok


MADV_POPULATE_WRITE = 23  # Linux 5.14
RANGES_MAX = 4096  # runs of pages kept; a bigger answer is not used
STOP_EVERY = 8  # runs of pages (~20 pages, ~60 us) copied between two looks at stop()
_PAGEMAP_PRESENT = 1 << 63
_PAGEMAP_EXCLUSIVE = 1 << 56


def _private_writable():
    """(start, end) of this process's private writable mappings."""
    out = []
    with open("/proc/self/maps", "rb") as f:
        for line in f:
            w = line.split()
            if len(w) < 2 or w[1][1:2] != b"w" or w[1][3:4] != b"p":
                continue
            if len(w) >= 6 and w[5].startswith(b"[") and w[5] != b"[heap]":
                continue  # the stack, vvar: not the server's objects
            lo, _, hi = w[0].partition(b"-")
            out.append((int(lo, 16), int(hi, 16)))
    return out


def _written(page):
    """Runs [start, end) of pages this process has to itself (written since
    the fork, or new), from /proc/self/pagemap."""
    runs = []
    fd = os.open("/proc/self/pagemap", os.O_RDONLY | os.O_CLOEXEC)
    try:
        for lo, hi in _private_writable():
            data = os.pread(fd, (hi - lo) // page * 8, lo // page * 8)
            for i, (e,) in enumerate(struct.iter_unpack("<Q", data)):
                if e & _PAGEMAP_PRESENT and e & _PAGEMAP_EXCLUSIVE:
                    at = lo + i * page
                    if runs and runs[-1][1] == at:
                        runs[-1][1] = at + page
                    else:
                        runs.append([at, at + page])
    finally:
        os.close(fd)
    return runs


def calibrate():
    """The page runs a canned evaluation writes in a fork of this process
    (see the module's doc) that this process maps too, as a list of (start,
    length); [] when that cannot be told (no pagemap, the rehearsal
    failed)."""
    import resource
    page = resource.getpagesize()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(rfd)
            if rehearse():
                # Its /proc files are root's while it is not dumpable (as the
                # server is not): pagemap would be closed to it. It has run
                # nothing but the rehearsal and exits next.
                import ctypes
                ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE 1
                runs = _written(page)
                data = sbx.dumps(runs[:RANGES_MAX + 1]).encode()
                while data:
                    data = data[os.write(wfd, data):]
                status = 0
        finally:
            os._exit(status)
    os.close(wfd)
    chunks = []
    try:
        while True:
            b = os.read(rfd, 1 << 16)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(rfd)
        _, status = os.waitpid(pid, 0)
    if status != 0:
        return []
    try:
        runs = sbx.loads(b"".join(chunks).decode())
    except ValueError:
        return []
    if not isinstance(runs, list) or len(runs) > RANGES_MAX:
        return []
    # Only what this process maps too (the child's heap may have grown past
    # this one's, its new arenas are its own), cut at mapping boundaries.
    out = []
    maps = _private_writable()
    for run in runs:
        if type(run) is not list or len(run) != 2 or type(run[0]) is not int or \
                type(run[1]) is not int:
            return []
        for lo, hi in maps:
            a, b = max(lo, run[0]), min(hi, run[1])
            if a < b:
                out.append((a, b - a))
    return out


_MADVISE = []  # libc's madvise, made once in the server (prepare())


def prepare():
    """In the server: what populate() calls, made here once (a ctypes
    function made in a fresh fork costs it ~400 pages of its own)."""
    import ctypes
    if not _MADVISE:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
        madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        madvise.restype = ctypes.c_int
        _MADVISE.append(madvise)


def populate(runs, stop=None):
    """Copy the calibrated pages into this process now (a spare, before its
    request); the bytes copied. Stops at the first refusal of the advice
    itself (an older kernel), and when stop() says so (asked every
    STOP_EVERY runs: the spare's request is here;
    what is left its judge copies as it writes, as without this)."""
    if not _MADVISE:
        return 0
    import ctypes
    madvise = _MADVISE[0]
    done = 0
    for i, (start, length) in enumerate(runs):
        if stop is not None and i % STOP_EVERY == STOP_EVERY - 1 and stop():
            break
        if madvise(start, length, MADV_POPULATE_WRITE) != 0:
            if ctypes.get_errno() in (22, 38):  # EINVAL, ENOSYS: not this kernel
                break
            continue  # unmapped since: the rest still counts
        done += length
    return done
