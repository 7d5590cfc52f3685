"""`threatwatch migrate`, the one-shot step before several `run` processes start: it brings
the database's tables up to date on either backend, again as a no-op, and a bad database URL
is a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import cli
from bot.store.migrations import MIGRATIONS
from bot.store.postgres.schema import MIGRATIONS as PG_MIGRATIONS


def test_migrate_brings_the_tables_up_to_date_and_a_second_run_does_nothing(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREATWATCH_DB", str(tmp_path / "m.db"))
    monkeypatch.delenv("THREATWATCH_DATABASE_URL", raising=False)
    expected = len(MIGRATIONS)
    if backend == "postgresql":
        monkeypatch.setenv("THREATWATCH_DATABASE_URL", request.getfixturevalue("postgres_url"))
        expected = len(PG_MIGRATIONS)
    for _ in range(2):
        result = CliRunner().invoke(cli, ["migrate"])
        assert result.exit_code == 0, result.output
        assert f"database ready: {'PostgreSQL' if backend != 'sqlite' else tmp_path / 'm.db'}, " \
            f"schema version {expected}" in result.output  # fmt: skip
    assert (backend == "sqlite") == (tmp_path / "m.db").exists()


def test_migrate_with_a_bad_database_url_says_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("THREATWATCH_DATABASE_URL", "mysql://db/threatwatch")
    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code != 0
    assert "unsupported database URL" in result.output + str(result.exception)
