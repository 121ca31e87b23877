"""Fixtures for the evaluation suites (helpers live in evalkit.py)."""
import pytest

from evalkit import run_harness


@pytest.fixture
def harness():
    """Evaluate one piece of code with the harness itself (no sandbox)."""
    def evaluate(code, tests=None, **kw):
        req = {"mode": "evaluate", "code": code, "tests": tests}
        req.update(kw)
        return run_harness([req])[0]
    return evaluate
