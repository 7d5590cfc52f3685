"""The store on PostgreSQL with pgvector (psycopg 3, a connection pool)."""

from bot.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
