from __future__ import annotations

from collections.abc import Iterator

import pytest
from sandbox_helpers import Receiver

from flask_halyk.sandbox import SandboxServer, create_sandbox_app


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server
        server.sandbox.wait_for_postlinks(5)


@pytest.fixture
def two_stage() -> Iterator[SandboxServer]:
    with SandboxServer(create_sandbox_app(two_stage=True)) as server:
        yield server
        server.sandbox.wait_for_postlinks(5)


