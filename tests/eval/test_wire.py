"""llmrepl_wire: the encoding values cross between the candidate and the
judge in. Plain values round-trip exactly; subclasses arrive as their base
type (read through the base type's own methods); anything else is a handle;
every malformed message is refused."""
import collections
import json
import math
import socket
import sys

import pytest

from evalkit import PY_DIR

sys.path.insert(0, str(PY_DIR))
import llmrepl_wire as wire  # noqa: E402


def roundtrip(x):
    handles = []
    v = wire.encode(x, lambda o: handles.append(o) or len(handles))
    v = json.loads(json.dumps(v))
    return wire.Decoder(lambda i, n, k: ("handle", n, k), lambda *a: ("exc",) + a).dec(v)


@pytest.mark.parametrize("x", [
    None, True, False, 0, -7, 10 ** 80, 1.5, -0.0, float("inf"), float("-inf"), 1 + 2j, "",
    "h\u00e9llo \U0001f600", "\ud800", b"\x00\xff", bytearray(b"ab"), [], [1, [2, [3]]],
    (1, "a"), {"a": 1, 2: [3]}, {1, 2}, frozenset({"x"}), {(1, 2): frozenset({3})},
])
def test_plain_values_roundtrip(x):
    y = roundtrip(x)
    assert type(y) is type(x) and y == x
    assert repr(y) == repr(x)


def test_nan():
    assert math.isnan(roundtrip(float("nan")))


def test_subclasses_arrive_as_their_base_type():
    class Int(int):
        def __eq__(self, other):
            return True

        def __repr__(self):
            return "42"

        __hash__ = int.__hash__

    class Str(str):
        def __str__(self):
            return "forged"

    class L(list):
        def __iter__(self):
            return iter([99])

    P = collections.namedtuple("P", "x y")
    assert type(roundtrip(Int(5))) is int and roundtrip(Int(5)) == 5
    assert roundtrip(Str("real")) == "real" and type(roundtrip(Str("real"))) is str
    assert roundtrip(L([1, 2])) == [1, 2]
    assert roundtrip(P(1, 2)) == (1, 2) and type(roundtrip(P(1, 2))) is tuple
    assert roundtrip(collections.OrderedDict(a=1)) == {"a": 1}


def test_other_objects_are_handles():
    class Box:
        pass

    assert roundtrip(Box()) == ("handle", "Box", "object")
    assert roundtrip(Box) == ("handle", "Box", "class")
    assert roundtrip(len) == ("handle", "builtin_function_or_method", "callable")
    x = []
    x.append(x)  # a cycle: too deep for data
    assert roundtrip(x)[0] == "handle"


def test_exceptions_by_names_and_message():
    class MyError(KeyError):
        def __str__(self):
            raise RuntimeError("no")

    e = roundtrip(ValueError("bad value"))
    assert e == ("exc", ["ValueError", "Exception", "BaseException", "object"], "bad value", [])
    e = roundtrip(MyError("k"))
    assert e[1][:3] == ["MyError", "KeyError", "LookupError"] and e[2] == "k"


@pytest.mark.parametrize("msg", [
    [], ["z"], ["n", 1], ["b", 2], ["b", True], ["i", "1e5"], ["i", " 1"], ["i", "9" * 5000],
    ["i", 5], ["f", "1e999"], ["f", "0x1p3"], ["f", 1.5], ["s", 5], ["y", "zz"], ["l", "ab"],
    ["d", [[["l", []], ["n"]]]], ["S", [["l", []]]], ["h", "1", "x", "object"],
    ["h", 1, "x", "weird"], ["e", "ValueError", "m"], "n", {"n": 1}, None,
])
def test_malformed_values_are_refused(msg):
    with pytest.raises(wire.WireError):
        wire.decode(msg, handle=lambda *a: None)


def test_handles_refused_where_only_data_may_be():
    with pytest.raises(wire.WireError):
        wire.decode(["h", 1, "x", "object"])


def test_depth_and_size_bounds():
    deep = ["n"]
    for _ in range(wire.DEPTH_MAX + 5):
        deep = ["l", [deep]]
    with pytest.raises(wire.WireError):
        wire.decode(deep)
    with pytest.raises(wire.WireError):
        wire.unpack(b"[1, 2")
    with pytest.raises(wire.WireError):
        wire.unpack(b"{}")


def test_framing_over_a_socket():
    a, b = socket.socketpair()
    try:
        wire.send(a, ["ok", wire.encode({"k": [1, 2.5]}, None), "", ""])
        msg = wire.recv(b)
        assert wire.decode(msg[1]) == {"k": [1, 2.5]}
        a.sendall(b"\xff\xff\xff\x7f")  # 2 GiB announced
        with pytest.raises(wire.WireError):
            wire.recv(b)
        a.close()
        with pytest.raises(EOFError):
            wire.recv(b)
    finally:
        b.close()


def test_callback_handles_only_from_the_judge():
    # The candidate decodes a "callback" handle into a proxy of the tests'
    # callable; the judge refuses one coming from the candidate.
    import llmrepl_judge
    v = ["h", 3, "f", "callback"]
    assert wire.Decoder(lambda i, n, k: (i, n, k), None).dec(v) == (3, "f", "callback")
    r = llmrepl_judge.Remote.__new__(llmrepl_judge.Remote)
    with pytest.raises(wire.WireError):
        r._handle(0, 3, "f", "callback")
