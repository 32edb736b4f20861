from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.harness import Harness, started_bot


@pytest.fixture
async def harness(tmp_path) -> AsyncIterator[Harness]:
    async with started_bot(tmp_path) as running:
        yield running
