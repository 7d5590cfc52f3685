"""The only package that speaks SQL. It returns models (bot/core/), never rows.

``Store`` is the protocol the rest of the code types against; ``SqliteStore`` implements it.
"""

from bot.store.protocol import Store
from bot.store.sqlite import SqliteStore

__all__ = ["SqliteStore", "Store"]
