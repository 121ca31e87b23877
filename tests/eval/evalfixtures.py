"""Fixtures for the evaluation suites, loaded with `pytest_plugins`: a second
conftest.py would shadow the shared tests/conftest.py for `from conftest import`."""
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
