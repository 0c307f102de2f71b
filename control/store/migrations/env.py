"""Alembic environment: runs migrations over the async engine the platform uses."""
import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from control.store.models import Base

config = context.config
url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_main())
