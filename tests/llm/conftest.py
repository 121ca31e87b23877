"""Fixtures for the model suites (helpers in llmtools.py): `fake_llm`, a
factory of scripted servers, and `llama_server`, the real local model behind
llama.cpp's server on a private loopback port, one per session."""
import os

import pytest

from llmtools import VENV, Fake, LlamaServer, have_model


@pytest.fixture
def fake_llm(tmp_path):
    """Factory: fake_llm(script="500,ok", model="fake", extra=[...])."""
    servers = []

    def start(script="ok", model="fake", extra=()):
        s = Fake(tmp_path, script, model, extra)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()



@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """The real small model on a private loopback port, one per test session.
    Without `make model` the tests that need it are skipped, except in CI
    (CI=true), where a missing model is a failure."""
    if not have_model():
        if os.environ.get("CI"):
            pytest.fail(f"no model in {VENV}: .ci/run must run `make model`")
        pytest.skip(f"no model in {VENV} (run `make model`)")
    server = LlamaServer(tmp_path_factory.mktemp("llama"))
    yield server
    server.stop()
