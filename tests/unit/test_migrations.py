"""The migrations build the schema the models describe: a column or table added to a model
without its migration (or the other way round) fails here, not on an operator's upgrade."""
from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from control.store.db import migrate
from control.store.models import Base


def test_the_migrations_build_the_models_schema(tmp_path: Path) -> None:
    migrate(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert differences == []
