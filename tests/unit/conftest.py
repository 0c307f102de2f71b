"""Fixtures the unit tests share."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.store.db import make_engine, migrate, sessions


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker]:
    """A real SQLite database, migrated to head, in the test's own directory."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    yield sessions(engine)
    await engine.dispose()
