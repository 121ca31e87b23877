"""llmrepl_wire - values between the judge and the candidate, as data.

The judge (the process that runs the tests) and the candidate (the process
that runs the code under test) share no objects: every value crosses a
socket in this strict, bounded, canonical encoding of plain types, and the
judge compares its own decoded objects, so no method of the candidate's
ever runs in the judge.

  None, bool, int, float (nan, inf too), complex, str, bytes, list, tuple,
  dict, set, frozenset   as themselves (subclasses as their base type, read
                         through the base type's own methods, never the
                         subclass's overrides)
  an exception           its class's names along the MRO and its message
  anything else          a handle: ("h", id, type name, kind) that the judge
                         wraps in a proxy whose calls go back to the candidate

One message is a JSON document of tagged lists, framed by a 4-byte length.
Decoding checks every tag, type and bound (depth, items, bytes, int digits)
and raises WireError on anything else; nothing is evaluated.
"""
import json
import math
import struct

VALUE_MAX = 8 << 20  # bytes of one value's encoding; a bigger one is a handle
MSG_MAX = 48 << 20  # a value, and each output stream up to its 16 MiB cap
DEPTH_MAX = 64
ITEMS_MAX = 1 << 20
INT_DIGITS_MAX = 4300
NAME_MAX = 200
MESSAGE_MAX = 2000


def recv_fds(sock, most):
    """One datagram on sock and the fds (up to `most`) that came with it,
    through interruptions."""
    import socket
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 4096, most)
            return msg, fds
        except InterruptedError:
            continue


class WireError(Exception):
    """A message broke the encoding (or its bounds)."""


class TooDeep(Exception):
    pass


def _exact(x, t):
    return type(x) is t


class Encoder:
    """Encodes values in the candidate. `handle(obj)` returns the id of an
    object that is not plain data (the candidate keeps it alive)."""

    def __init__(self, handle, budget=VALUE_MAX):
        self.handle = handle
        self.items = 0
        self.budget = budget  # bytes of encoding left; past it, a handle

    def _spend(self, n):
        self.budget -= n
        if self.budget < 0:
            raise TooDeep()

    def enc(self, x, depth=0):
        if depth > DEPTH_MAX:
            raise TooDeep()
        self.items += 1
        if self.items > ITEMS_MAX:
            raise TooDeep()
        self._spend(8)
        if x is None:
            return ["n"]
        if x is True or x is False:
            return ["b", 1 if x else 0]
        if isinstance(x, int):
            s = int.__repr__(x)
            if len(s) > INT_DIGITS_MAX:
                if depth == 0:
                    return self.enc_handle(x)
                raise TooDeep()
            self._spend(len(s))
            return ["i", s]
        if isinstance(x, float):
            return ["f", float.__repr__(x)]
        if isinstance(x, complex):
            return ["c", float.__repr__(complex.real.__get__(x)),
                    float.__repr__(complex.imag.__get__(x))]
        if isinstance(x, str):
            if depth == 0 and str.__len__(x) > self.budget:
                return self.enc_handle(x)
            self._spend(str.__len__(x))
            return ["s", str.__str__(x)]
        if isinstance(x, (bytes, bytearray)) and not isinstance(x, memoryview):
            n = 2 * (bytes.__len__(x) if isinstance(x, bytes) else bytearray.__len__(x))
            if depth == 0 and n > self.budget:
                return self.enc_handle(x)
            self._spend(n)
            return ["y" if isinstance(x, bytes) else "Y",
                    bytes.hex(x) if isinstance(x, bytes) else bytearray.hex(x)]
        try:
            if isinstance(x, tuple):
                return ["t", [self.enc(v, depth + 1) for v in tuple.__iter__(x)]]
            if isinstance(x, list):
                return ["l", [self.enc(v, depth + 1) for v in list.__iter__(x)]]
            if isinstance(x, dict):
                return ["d", [[self.enc(k, depth + 1), self.enc(v, depth + 1)]
                              for k, v in dict.items(x)]]
            if isinstance(x, frozenset):
                return ["F", [self.enc(v, depth + 1) for v in frozenset.__iter__(x)]]
            if isinstance(x, set):
                return ["S", [self.enc(v, depth + 1) for v in set.__iter__(x)]]
        except TooDeep:
            if depth == 0:
                return self.enc_handle(x)
            raise
        except RuntimeError:  # changed size during iteration
            return self.enc_handle(x)
        if isinstance(x, BaseException):
            return self.enc_exc(x)
        return self.enc_handle(x)

    def enc_handle(self, x):
        t = type(x)
        kind = "class" if isinstance(x, type) else "callable" if callable(x) else "object"
        name = x.__name__ if kind == "class" and isinstance(getattr(x, "__name__", None), str) \
            else getattr(t, "__name__", "object")
        return ["h", self.handle(x), _clip(name, NAME_MAX), kind]

    def enc_exc(self, e):
        names = []
        for c in type(e).__mro__:
            n = getattr(c, "__name__", None)
            if isinstance(n, str):
                names.append(_clip(n, NAME_MAX))
            if len(names) >= 16:
                break
        try:
            msg = BaseException.__str__(e)
        except BaseException:  # noqa: BLE001
            msg = ""
        return ["e", names, _clip(msg, MESSAGE_MAX)]


def _clip(s, n):
    s = str.__str__(s) if isinstance(s, str) else ""
    s = s[:n]
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "replace").decode("utf-8")
    return s


def encode(x, handle, budget=None):
    """A value as a JSON-ready tagged structure (see the module's doc); one
    whose encoding would pass `budget` bytes is a handle."""
    try:
        return Encoder(handle, VALUE_MAX if budget is None else budget).enc(x)
    except TooDeep:
        return Encoder(handle).enc_handle(x)


# ---- decoding (the judge) ----------------------------------------------------

class Decoder:
    """Decodes in the judge. `handle(id, name, kind)` makes the proxy of a
    candidate object; `exc(names, message)` the exception to raise."""

    def __init__(self, handle, exc):
        self.handle = handle
        self.exc = exc
        self.items = 0

    def dec(self, v, depth=0):
        if depth > DEPTH_MAX + 1:
            raise WireError("nested too deeply")
        self.items += 1
        if self.items > ITEMS_MAX + 1:
            raise WireError("too many items")
        if type(v) is not list or not v or type(v[0]) is not str:
            raise WireError("not a tagged value")
        tag = v[0]
        n = len(v)
        if tag == "n" and n == 1:
            return None
        if tag == "b" and n == 2 and v[1] in (0, 1) and type(v[1]) is int:
            return v[1] == 1
        if tag == "i" and n == 2 and type(v[1]) is str and 0 < len(v[1]) <= INT_DIGITS_MAX + 1:
            s = v[1]
            digits = s[1:] if s[0] == "-" else s
            if not digits or not digits.isascii() or not digits.isdigit():
                raise WireError("bad int")
            return int(s)
        if tag == "f" and n == 2 and type(v[1]) is str:
            return _float(v[1])
        if tag == "c" and n == 3 and type(v[1]) is str and type(v[2]) is str:
            return complex(_float(v[1]), _float(v[2]))
        if tag == "s" and n == 2 and type(v[1]) is str:
            return v[1]
        if tag in ("y", "Y") and n == 2 and type(v[1]) is str:
            try:
                b = bytes.fromhex(v[1])
            except ValueError:
                raise WireError("bad bytes") from None
            return b if tag == "y" else bytearray(b)
        if tag in ("l", "t", "S", "F") and n == 2 and type(v[1]) is list:
            items = [self.dec(x, depth + 1) for x in v[1]]
            try:
                return {"l": list, "t": tuple, "S": set, "F": frozenset}[tag](items)
            except TypeError:
                raise WireError("unhashable set member") from None
        if tag == "d" and n == 2 and type(v[1]) is list:
            d = {}
            for kv in v[1]:
                if type(kv) is not list or len(kv) != 2:
                    raise WireError("bad dict item")
                try:
                    d[self.dec(kv[0], depth + 1)] = self.dec(kv[1], depth + 1)
                except TypeError:
                    raise WireError("unhashable dict key") from None
            return d
        if tag == "e" and n in (3, 4) and type(v[1]) is list and type(v[2]) is str:
            names = [x for x in v[1][:16] if type(x) is str and len(x) <= NAME_MAX]
            frames = []
            if n == 4 and type(v[3]) is list:
                frames = [(f[0], f[1][:100]) for f in v[3][:12] if type(f) is list
                          and len(f) == 2 and type(f[0]) is int and type(f[1]) is str]
            return self.exc(names or ["Exception"], v[2][:MESSAGE_MAX], frames)
        if tag == "h" and n == 4 and type(v[1]) is int and type(v[2]) is str \
                and v[3] in ("class", "callable", "object", "global", "callback"):
            return self.handle(v[1], v[2][:NAME_MAX], v[3])
        raise WireError("unknown or malformed value %r" % (tag[:10],))


def _float(s):
    if s in ("nan", "inf", "-inf"):
        return float(s)
    if len(s) > 40:
        raise WireError("bad float")
    try:
        f = float(s)
    except ValueError:
        raise WireError("bad float") from None
    if math.isnan(f) or math.isinf(f):
        raise WireError("bad float")
    return f


def decode(v, handle=None, exc=None):
    def no_handle(i, name, kind):
        raise WireError("a handle where only data may be")

    def plain_exc(names, message, frames=()):
        return RemoteException(names, message)

    return Decoder(handle or no_handle, exc or plain_exc).dec(v)


class RemoteException(Exception):
    """An exception of the candidate's, by its class names and message."""

    def __init__(self, names, message):
        super().__init__(message)
        self.names = names


# ---- framing -----------------------------------------------------------------

def pack(msg):
    data = json.dumps(msg, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8", "surrogatepass")
    if len(data) > MSG_MAX:
        raise WireError("message over %d bytes" % MSG_MAX)
    return struct.pack("<I", len(data)) + data


def unpack(data):
    try:
        msg = json.loads(data.decode("utf-8", "surrogatepass"))
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise WireError("not a message: %s" % type(e).__name__) from None
    if type(msg) is not list or not msg or type(msg[0]) is not str:
        raise WireError("not a message")
    return msg


def send(sock, msg):
    sock.sendall(pack(msg))


def recv_exact(sock, n):
    parts = []
    while n > 0:
        b = sock.recv(min(n, 1 << 20))
        if not b:
            raise EOFError("the other side closed the connection")
        parts.append(b)
        n -= len(b)
    return b"".join(parts)


def recv(sock):
    (n,) = struct.unpack("<I", recv_exact(sock, 4))
    if n > MSG_MAX:
        raise WireError("message over %d bytes" % MSG_MAX)
    return unpack(recv_exact(sock, n))
