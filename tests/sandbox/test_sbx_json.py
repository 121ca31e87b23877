"""The entry's own JSON reader and writer (llmrepl_sbx.loads/dumps, used for
requests and answers up to SMALL_JSON instead of the _json accelerator) agree
with the json package: the same values from the same documents, the same
refusals, the same text for the same values."""
import json
import subprocess
import sys

from conftest import ROOT

CHECK = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
import llmrepl_sbx as s

docs = json.loads(sys.stdin.read())
bad = []
for d in docs["good"]:
    for text in (d, " \n" + d + "\t "):
        try:
            got = s.loads(text)
        except Exception as e:
            bad.append(("refused", text, repr(e)))
            continue
        want = json.loads(text)
        if json.dumps(got) != json.dumps(want) or repr(got) != repr(want):
            bad.append(("differs", text, repr(got), repr(want)))
for d in docs["bad"]:
    try:
        json.loads(d)
        bad.append(("json accepts a bad example", d))
        continue
    except ValueError:
        pass
    try:
        bad.append(("accepted", d, repr(s.loads(d))))
    except ValueError:
        pass
for v in docs["values"]:
    if s.dumps(v) != json.dumps(v):
        bad.append(("dumps", v, s.dumps(v), json.dumps(v)))
big = {"code": "x = '\u00e9\\n' * 5000\n" * 40, "n": [1, 2.5, None]}
if s.loads(json.dumps(big)) != big or json.loads(s.dumps(big)) != big:
    bad.append(("big",))
print(json.dumps(bad))
'''

GOOD = [
    '{"mode": "exec", "code": "print(1)\\n", "argv": ["a", "b"]}',
    '{}', '[]', '[[], {}, [{}]]', '"x"', '0', '-0', '12', '-12', '1.5', '-0.25e-3', '1E+2',
    '123456789012345678901234567890', 'true', 'false', 'null', 'NaN', 'Infinity',
    '-Infinity', '"\\u00e9\\ud83d\\ude00\\ud800x\\udc00"', '"\\"\\\\\\/\\b\\f\\n\\r\\t"',
    '"caf\u00e9 \u2028 \U0001f600"', '{"a": 1, "a": 2}', '{"k": [1, {"x": [true, null]}]}',
    '"\\u0000\\u001f"', '{"": ""}',
]
BAD = [
    '', ' ', '{', '[1,]', '{"a":1,}', '{"a" 1}', '{a: 1}', "'x'", '"\\x41"', '"\\u12"',
    '"\\u12g4"', '"a\nb"', '"a\tb"', '01', '+1', '.5', '1.', '1e', '-', '--1', 'tru', 'nul',
    '[1 2]', '{"a": 1} x', '"unterminated', '[1]]', '1 2', '"\\', '"\\u+123"', '"\\u1_23"',
]
VALUES = [
    None, True, False, 0, -7, 2 ** 70, 1.5, float("inf"), "plain", "qu\"ote\\back",
    "ctl\x00\x1f\x7f", "caf\u00e9", "\U0001f600", "\ud800", "line\nbreak\ttab",
    {"ok": False, "error": {"type": "ValueError", "message": "bad \u00e9", "line": 3}},
    [1, [2, {"x": None}]], "x" * 20000 + "\u00e9",
]


def test_reader_and_writer_agree_with_json():
    values = [v for v in VALUES if v != float("inf")]
    docs = json.dumps({"good": GOOD, "bad": BAD, "values": values})
    out = subprocess.run([sys.executable, "-I", "-S", "-c", CHECK, str(ROOT / "sandbox" / "py")],
                         input=docs, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
