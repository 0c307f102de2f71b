"""Suite-wide rules. With VOICECTL_NO_SKIPS=1 (CI), a skipped test is a failed test: the
real-Asterisk tests must run, never quietly stand aside."""
from __future__ import annotations

import os
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("VOICECTL_NO_SKIPS") == "1":
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run every test: {report.longrepr}"


@pytest.fixture(scope="session")
def postgres_url() -> Any:
    """A real PostgreSQL for DATABASE_URL tests (a failure, not a skip, when it is missing)."""
    from tests.support.postgres import running_postgres

    try:
        with running_postgres() as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
