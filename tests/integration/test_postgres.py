"""The platform on PostgreSQL (DATABASE_URL) instead of the embedded SQLite: real calls,
records written through asyncpg."""
from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import require_asterisk, wait_call
from tests.integration.test_local_calls import call_local
from tests.support.platform import Instance


def test_calls_are_recorded_in_postgres(tmp_path: Path, postgres_url: str) -> None:
    require_asterisk()
    instance = Instance.create(tmp_path / "pg", rtp=(35000, 35999), database_url=postgres_url)
    instance.cli("demo")
    instance.start()
    try:
        assert not (instance.data_dir / "voicectl.db").exists()
        call_id = call_local(instance, "8005550100", "w2,d1,w2,d2,w20")
        call = wait_call(instance, lambda c: c.id == call_id)
        assert call.branch_data == [{"branch": "0", "input": "1"}, {"branch": "0", "input": "2"},
                                    {"branch": "900", "input": ""}]
        assert call.started_at.tzinfo is not None and call.ended_at > call.answered_at
        assert "+18005550100" in instance.cli("calls", "list").stdout
    finally:
        assert instance.stop() == 0, instance.log_tail()
