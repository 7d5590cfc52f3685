"""Opening a PostgreSQL database for the store: URL checks, a connection pool, clear errors.

Every failure to reach or use the database becomes a ``StoreError`` that names the cause and the
database without its password: a malformed URL, a server that does not answer, credentials it
refuses, a database without the ``vector`` extension.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg import errors as pgerrors
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import Format
from psycopg.types import TypeInfo
from psycopg_pool import ConnectionPool

from bot.core.errors import StoreError

SCHEMES = ("postgresql", "postgres")
CONNECT_TIMEOUT = 10  # seconds to reach the server before giving up
POOL_MAX = 8  # connections per process: the event loop, index builds and delivery share them


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<malformed database URL>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if _port_ok(parts) else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _port_ok(parts: Any) -> bool:
    try:
        return parts.port is not None
    except ValueError:
        return False


def check_url(url: str) -> dict[str, Any]:
    """The URL's connection parameters, or StoreError when it is not a usable PostgreSQL URL."""
    shown = redact(url)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in SCHEMES:
        raise StoreError(f"database URL {shown!r} must start with postgresql://")
    try:
        params = conninfo_to_dict(url)
        parts = urlsplit(url)
        if parts.port is not None and not 0 < parts.port < 65536:
            raise ValueError("port out of range")
    except (psycopg.ProgrammingError, ValueError) as exc:
        raise StoreError(f"malformed database URL {shown!r}: {exc}") from exc
    if not params.get("dbname"):
        raise StoreError(f"database URL {shown!r} names no database (postgresql://…/NAME)")
    return params


def connect_error(url: str, exc: psycopg.Error) -> StoreError:
    """A connection failure as a StoreError that says which kind it was."""
    shown, text = redact(url), str(exc).strip()
    if isinstance(exc, pgerrors.InvalidPassword | pgerrors.InvalidAuthorizationSpecification) or (
        "password authentication failed" in text or "no password supplied" in text
    ):
        return StoreError(f"database {shown} refused the credentials: {text}")
    if isinstance(exc, pgerrors.InvalidCatalogName) or "does not exist" in text:
        return StoreError(f"database {shown} does not exist: {text}")
    return StoreError(f"cannot reach the database server at {shown}: {text}")


def check_vector_extension(url: str) -> None:
    """Make sure the ``vector`` extension is in the database: create it when this role may,
    else say that an administrator has to."""
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
                return
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except psycopg.errors.InsufficientPrivilege as exc:
                raise StoreError(
                    f"database {redact(url)} has no 'vector' extension (pgvector) and this role "
                    "may not create it: ask an administrator to run CREATE EXTENSION vector "
                    "in that database"
                ) from exc
            except psycopg.errors.FeatureNotSupported as exc:  # pragma: no cover - server side
                raise StoreError(
                    f"database {redact(url)}: pgvector is not installed: {exc}"
                ) from exc
            except psycopg.errors.UndefinedFile as exc:
                raise StoreError(
                    f"the server of {redact(url)} has no pgvector installed: {exc}"
                ) from exc
    except psycopg.OperationalError as exc:
        raise connect_error(url, exc) from exc


class _VectorTextLoader(Loader):
    """``vector`` values read as float32 numpy arrays (pgvector's own loader gives ``Vector``)."""

    format = Format.TEXT

    def load(self, data: Buffer) -> np.ndarray:
        text = bytes(data).decode()
        return np.array(text[1:-1].split(","), dtype=np.float32)


class _VectorBinaryLoader(Loader):
    format = Format.BINARY

    def load(self, data: Buffer) -> np.ndarray:
        dims = int.from_bytes(bytes(data[:2]), "big")  # then 2 unused bytes, then big-endian
        return np.frombuffer(data, ">f4", count=dims, offset=4).astype(np.float32)


def configure_connection(conn: psycopg.Connection[Any]) -> None:
    """UTC times; pgvector's dumpers (numpy arrays and ``Vector`` go in as ``vector``), and
    ``vector`` values come back as float32 numpy arrays."""
    from pgvector.psycopg import register_vector

    conn.execute("SET TIME ZONE 'UTC'")
    register_vector(conn)
    info = TypeInfo.fetch(conn, "vector")
    assert info is not None  # check_vector_extension() made sure of it
    conn.adapters.register_loader(info.oid, _VectorTextLoader)
    conn.adapters.register_loader(info.oid, _VectorBinaryLoader)


def open_pool(url: str, *, max_size: int = POOL_MAX) -> ConnectionPool:
    """A pool of autocommit connections, each set up by ``configure_connection``."""
    configure = configure_connection

    pool: ConnectionPool = ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
        configure=configure,
        open=False,
        name="threatwatch",
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT + 5)
    except Exception as exc:  # PoolTimeout hides the server's reason: ask once more for it
        pool.close()
        try:
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT).close()
        except psycopg.Error as reason:
            raise connect_error(url, reason) from exc
        raise StoreError(f"cannot open a connection pool to {redact(url)}: {exc}") from exc
    return pool
