"""The feedback, summary and error text of recorded evaluations, to the byte.

feedback_pins.json holds real harness answers (and edited copies of them for
the rarer branches: clipping at the caps, io cases, the run's own failure)
with the text worker/eval_feedback.c made of each; make_feedback_pins.py
wrote it and is run again only for a deliberate change to the text."""
import json
from pathlib import Path

import pytest

from test_judge import judge

PINS = json.loads((Path(__file__).resolve().parent / "feedback_pins.json").read_text())


@pytest.mark.parametrize("pin", PINS, ids=[p["name"] for p in PINS])
def test_feedback_text_is_pinned(pin):
    req = dict(pin["request"])
    out = judge(req.pop("answer"), **req)
    assert out["feedback"] == pin["feedback"]
    assert out["summary"] == pin["summary"]
    assert out["error"] == pin["error"]


def test_the_pins_reach_the_branches():
    text = "".join(p["feedback"] for p in PINS)
    for fragment in ("The code does not parse", "Running the code raised",
                     "Running the code did not finish", "The code is empty",
                     "The code is too big", "The tests cannot be used",
                     "went over the memory limit (", "Running the code failed",
                     "The code did not run (", "returned", "; the check `", "expected ",
                     "` is false", "(an endless loop, or too slow?)", "it printed: ",
                     "... and ", "did not run", "Criteria not met:", "(bandit ",
                     "Worth tidying:", "cyclomatic complexity", "pyflakes also reports:",
                     "Its error output ends with: ", "Input (stdin):", "(out of memory"):
        assert fragment in text, fragment
    assert any(len(p["feedback"].encode()) >= 5990 for p in PINS)  # the cap
