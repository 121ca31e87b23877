"""Thousands of generated bad specs through a real dispatcher and worker: broken
JSON, the leniencies of JSON parsers (NaN, `1.`, raw control characters,
duplicate keys, lone surrogates), invalid UTF-8, NUL bytes, wrong types, sizes
over the limits, request entries of the wrong shape. Every one must end
`rejected` with a reason, be logged once, and the valid jobs mixed in must
still run; no process may crash."""
import json
import random
import time

import redis

VALID = {"kind": "evaluate", "code": "x = 1\n", "tests": ["assert x == 1"],
         "static_checks": False}
FIELDS = {"kind": "evaluate", "code": "x", "tests": ["assert 1"], "entry_point": "f",
          "limits": {"timeout_s": 5, "memory_mb": 64}, "criteria": {"max_security": "low"},
          "static_checks": True}


def dumps(o):
    return json.dumps(o).encode()


def json_breakage(rng):
    good = dumps(VALID)
    cut = rng.randrange(1, len(good) - 1)
    choices = [
        good[:cut],                                          # truncated
        good[:cut] + b"\x01" + good[cut:],                   # a raw control byte
        good + b" x",                                        # trailing garbage
        good + b"{}",                                        # two values
        good.replace(b'"x = 1\\n"', b'"x = 1\n"'),           # raw newline in a string
        good.replace(b'"x = 1\\n"', b'"x =\t1"'),            # raw tab
        good.replace(b"false", b"NaN"),
        good.replace(b"false", b"Infinity"),
        good.replace(b"false", b"-Infinity"),
        b'{"kind": "evaluate", "code": "x", "limits": {"timeout_s": 1.}}',
        b'{"kind": "evaluate", "code": "x", "limits": {"timeout_s": .5}}',
        b'{"kind": "evaluate", "code": "x", "limits": {"timeout_s": 01}}',
        b'{"kind": "evaluate", "code": "x", "limits": {"timeout_s": +1}}',
        b'{"kind": "evaluate", "code": "x", "limits": {"timeout_s": 1e999}}',
        b'{"kind": "evaluate", "code": "x", "limits": {"memory_mb": 99999999999999999999999}}',
        b"{'kind': 'evaluate', 'code': 'x'}",
        b'{"kind": "evaluate", "code": "x",}',
        b'{"kind": "evaluate" "code": "x"}',
        b'{"kind": "evaluate", "code": "x"',
        b"[" * rng.randrange(20, 200) + b"]" * rng.randrange(0, 200),
        b'{"a":' * rng.randrange(10, 100) + b"1" + b"}" * rng.randrange(0, 100),
        b"",
        b"null",
        b"[1, 2]",
        b'"just a string"',
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))),
    ]
    return rng.choice(choices)


def duplicates(rng):
    key = rng.choice(["kind", "code", "tests", "limits", "static_checks"])
    a = dict(VALID)
    text = dumps(a)[:-1] + b", " + json.dumps(key).encode() + b": " + dumps(a.get(key, 1)) + b"}"
    if rng.random() < 0.3:  # the same key, escaped differently
        text = dumps(a)[:-1] + b', "\\u0063ode": "y"}'
    if rng.random() < 0.2:
        text = b'{"kind": "evaluate", "code": "x", "limits": {"timeout_s": 1, "timeout_s": 2}}'
    return text


def bad_text(rng):
    """Invalid UTF-8, lone surrogates and NUL inside strings and keys."""
    bad = rng.choice([b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xff", b"\x80",
                      b"\xe2\x82", b"\\ud800", b"\\udfff", b"\\ud83d\\u0041", b"\\u0000",
                      b"\x00"])
    where = rng.choice(["code", "key", "tests", "entry", "kind"])
    if where == "code":
        return b'{"kind": "evaluate", "code": "a' + bad + b'b"}'
    if where == "key":
        return b'{"kind": "evaluate", "code": "x", "co' + bad + b'de": 1}'
    if where == "tests":
        return b'{"kind": "evaluate", "code": "x", "tests": ["assert 1' + bad + b'"]}'
    if where == "entry":
        return b'{"kind": "evaluate", "code": "x", "entry_point": "f' + bad + b'"}'
    return b'{"kind": "evaluate' + bad + b'", "code": "x"}'


WRONG = [
    ("kind", 1), ("kind", "EVALUATE"), ("kind", "Evaluate"), ("kind", ""), ("kind", []),
    ("code", 1), ("code", []), ("code", {}), ("code", True), ("code", 2.5),
    ("tests", 1), ("tests", {}), ("tests", [1]), ("tests", [None]), ("tests", True),
    ("entry_point", 1), ("entry_point", ""), ("entry_point", "1abc"), ("entry_point", "a b"),
    ("limits", 1), ("limits", []), ("limits.timeout_s", "5"), ("limits.timeout_s", -1),
    ("limits.timeout_s", 0), ("limits.memory_mb", 2.5), ("limits.memory_mb", 1),
    ("limits.memory_mb", "64"), ("limits.x", 1), ("criteria", 1), ("criteria", []),
    ("criteria.max_security", "LOW"), ("criteria.max_security", "Medium"),
    ("criteria.max_security", 2), ("criteria.min_pass_rate", 2),
    ("criteria.min_pass_rate", "1"), ("criteria.bogus", 1), ("static_checks", "true"),
    ("static_checks", 1), ("static_checks", []),
]


def wrong_types(rng):
    spec = json.loads(json.dumps(FIELDS))
    field, value = rng.choice(WRONG)
    if "." in field:
        outer, inner = field.split(".")
        spec[outer][inner] = value
    else:
        spec[field] = value
    return dumps(spec)


def sizes(rng):
    n = rng.choice([2049, 5000, 9000])
    return dumps({"kind": "evaluate", "code": "x" * n})


def unknown_fields(rng):
    spec = dict(VALID)
    spec[rng.choice(["timeout", "Code", "kind ", "limits.timeout_s", "x" * 100, "model"])] = 1
    return dumps(spec)


GENERATORS = [json_breakage, duplicates, bad_text, wrong_types, sizes, unknown_fields]


def test_thousands_of_bad_specs_are_each_rejected_with_a_reason(system):
    rng = random.Random(18)
    d = system.dispatcher(**{"max-text-bytes": 2048, "max-spec-bytes": 8192})
    w = system.worker()
    r = redis.Redis(host="127.0.0.1", port=system.redis.port)  # bytes in, bytes out
    req = system.key("requests").encode()
    bad, good = [], []
    t0 = time.time()
    pipe = r.pipeline(transaction=False)
    kinds = []
    for i in range(3000):
        if i % 150 == 0:
            pipe.xadd(req, {b"spec": dumps(VALID)})
            kinds.append("good")
            continue
        g = rng.choice(GENERATORS + ["shape"])
        if g == "shape":
            shape = rng.choice([{b"spec": dumps(VALID), b"extra": b"1"},
                                {b"spec\x00junk": dumps(VALID)},
                                {b"Spec": dumps(VALID)},
                                {b"specs": dumps(VALID)}])
            pipe.xadd(req, shape)
        else:
            pipe.xadd(req, {b"spec": g(rng)})
        kinds.append("bad")
    ids = [x.decode() if isinstance(x, bytes) else x for x in pipe.execute()]
    for jid, kind in zip(ids, kinds):
        (good if kind == "good" else bad).append(jid)

    def all_final():
        p = system.r.pipeline(transaction=False)
        for jid in ids:
            p.hget(system.key("job", jid), "state")
        return all(s in ("done", "rejected") for s in p.execute())
    system.wait_for(all_final, timeout=120, what="every job final")
    elapsed = time.time() - t0
    p = system.r.pipeline(transaction=False)
    for jid in bad:
        p.hmget(system.key("job", jid), "state", "error")
    for jid, (state, error) in zip(bad, p.execute()):
        assert state == "rejected" and error, (jid, state, error)
    for jid in good:
        h = system.job(jid)
        assert h["state"] == "done" and h["passed"] == "1", h
    assert d.alive() and w.alive()
    stats = system.stats()
    assert stats["total:rejected"] == str(len(bad)), stats
    assert stats.get("queued", "0") == "0" and stats.get("running", "0") == "0"
    assert system.r.xlen(system.key("requests")) == 0
    # Each rejection logged exactly once, whichever path made it.
    log = d.log()
    for jid in bad:
        assert log.count(f"job {jid} rejected") == 1, jid
    print(f"{len(bad)} bad and {len(good)} good specs final in {elapsed:.1f} s")
