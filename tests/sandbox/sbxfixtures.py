"""Fixtures for the sandbox suites, loaded with `pytest_plugins = ["sbxfixtures"]`
(a second conftest.py would shadow tests/conftest.py for `from conftest import`).

`run(code, ...)` makes one cold run (or, with pool=True, one run through a
fresh pre-forked pool) and returns the CLI's JSON result; `run_many` sends
several codes through one pool, in order, and returns one result per code.
"""
import uuid

import pytest

from sbxkit import cli, flags


@pytest.fixture
def run():
    def _run(code, pool=False, env=None, user=None, **kw):
        proc, results = cli(flags(pool=pool, **kw) + ["-c", code], env=env, user=user)
        assert len(results) == 1, (proc.returncode, proc.stderr.decode())
        r = results[0]
        r["cli_status"] = proc.returncode
        return r
    return _run


@pytest.fixture
def run_many(tmp_path):
    def _run_many(codes, **kw):
        files = []
        for code in codes:
            path = tmp_path / ("code-%s.py" % uuid.uuid4().hex)
            path.write_text(code)
            files.append(str(path))
        proc, results = cli(flags(pool=True, **kw), files)
        assert len(results) == len(codes), (proc.returncode, proc.stderr.decode())
        return results
    return _run_many


@pytest.fixture(params=["cold", "pool"])
def mode(request):
    """Run a test both ways: a fresh sandbox, and the pre-forked pool."""
    return request.param == "pool"


