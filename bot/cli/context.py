"""What every command shares: the settings it runs with, and the app or the part of it that it
needs, built on one event loop and closed after. Heavy modules are imported by the command that
uses them, so `threatwatch --help` and a listing stay instant."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core.errors import ThreatwatchError

if TYPE_CHECKING:
    from bot.app.compose import App
    from bot.core.settings import Settings
    from bot.service.feeds import FeedService


class Context:
    def __init__(self, db: Path | None, verbose: bool):
        self.db = db
        self.verbose = verbose

    def settings(self) -> Settings:
        from pydantic import ValidationError

        from bot.core.settings import Settings

        try:
            settings = Settings()
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ThreatwatchError(
                f"bad setting THREATWATCH_{str(first['loc'][0]).upper()}: {first['msg']}"
            ) from exc
        if self.db is not None:
            settings.db = self.db
        return settings


def with_app(ctx: Context, fn: Callable[[App], Any]) -> Any:
    """Build the app, run ``fn(app)`` (sync or async) and close the app, all on one event loop:
    the HTTP client must be closed on the loop that used it."""

    import asyncio
    import inspect

    from bot.app.compose import compose

    async def main() -> Any:
        app = compose(ctx.settings())
        try:
            result = fn(app)
            return await result if inspect.isawaitable(result) else result
        finally:
            await app.aclose()

    return asyncio.run(main())


def with_feeds(ctx: Context, fn: Callable[[FeedService], Any]) -> Any:
    """Like with_app, for the feed commands: the store and the feed service only (no model, no
    HTTP client, no topic sync). The default feeds are loaded on first use, as compose() does."""
    import asyncio
    import inspect

    from bot.core.models import utcnow
    from bot.service.feeds import FeedService
    from bot.store.open import open_store
    from bot.topics.config import load_default_feeds

    async def main() -> Any:
        settings = ctx.settings()
        store = open_store(settings)  # SQLite, or PostgreSQL with THREATWATCH_DATABASE_URL
        try:
            if settings.load_default_feeds:
                load_default_feeds(store, settings.config_dir, utcnow())
            result = fn(FeedService(settings, store, utcnow))
            return await result if inspect.isawaitable(result) else result
        finally:
            store.close()

    return asyncio.run(main())
