"""The only package that speaks SQL. It returns models (bot.models), never rows."""

from bot.store.store import Store

__all__ = ["Store"]
