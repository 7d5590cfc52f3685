"""Which store a deployment uses, chosen by URL.

``THREATWATCH_DATABASE_URL=postgresql://…`` selects PostgreSQL (with pgvector) and wins over
``THREATWATCH_DB``: no SQLite file is created then. Unset, or ``sqlite:///path``, keeps the
embedded SQLite store (``THREATWATCH_DB`` names its file when no URL is set).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bot.core.errors import StoreError
from bot.store.protocol import Store
from bot.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from bot.core.settings import Settings

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class _HasDatabase(Protocol):
    db: Path
    database_url: str | None


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///path`` URL (``sqlite:////abs/path`` or ``sqlite:///rel/path``)."""
    path = url[len(SQLITE_PREFIX) :]
    if not path or "?" in path or "#" in path:
        raise StoreError(f"malformed SQLite URL {url!r}: expected sqlite:///path/to/file.db")
    return Path(path)


def open_store_url(url: str) -> Store:
    """A store for a database URL; StoreError names what is wrong with a bad one."""
    url = url.strip()
    if url.startswith(POSTGRES_SCHEMES):
        from bot.store.postgres import PostgresStore  # psycopg is only needed for PostgreSQL

        return PostgresStore(url)
    if url.startswith(SQLITE_PREFIX):
        return SqliteStore(sqlite_path(url))
    shown = url.split("@")[-1] if "@" in url else url
    raise StoreError(
        f"unsupported database URL {shown!r}: use postgresql://user:password@host/db "
        "or sqlite:///path/to/file.db"
    )


def open_store(settings: Settings | _HasDatabase) -> Store:
    """The store the settings name: their database URL if set, else the SQLite file ``db``."""
    if settings.database_url:
        return open_store_url(settings.database_url)
    return SqliteStore(settings.db)
