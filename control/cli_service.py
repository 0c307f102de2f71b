"""What every `voicectl` command group shares: running one service call on a migrated database
(service errors become one clear CLI error), and printing its result as text or JSON."""
from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable, TypeVar

import click
from sqlalchemy.ext.asyncio import async_sessionmaker

from control.errors import Invalid, ServiceError
from control.settings import Settings
from control.store.db import make_engine, migrate, sessions

T = TypeVar("T")


def with_db(settings: Settings, work: Callable[[async_sessionmaker], Awaitable[T]]) -> T:
    """Run one service call on a migrated database; service errors become CLI errors."""
    migrate(settings.database_url)

    async def run() -> T:
        engine = make_engine(settings.database_url)
        try:
            return await work(sessions(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except Invalid as exc:
        raise click.ClickException("\n".join(["rejected, nothing was stored:", *(f"  {e}" for e in exc.errors)]))
    except ServiceError as exc:
        raise click.ClickException(str(exc))


def print_result(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text)
