"""Webhook mode: Telegram POSTs updates to THREATWATCH_TELEGRAM_WEBHOOK_URL; a small aiohttp
server in our event loop checks the secret token header and queues them for the Application."""

from __future__ import annotations

import hmac
import logging
import re
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.adapters.telegram.listener import UpdateLog, first_time
from bot.adapters.telegram.render import ALLOWED_UPDATES
from bot.core.errors import ConfigError, ThreatwatchError
from bot.core.models import utcnow
from bot.core.settings import Settings

log = logging.getLogger(__name__)

SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def start_webhook(
    settings: Settings,
    application: Application,  # type: ignore[type-arg]
    updates: UpdateLog,
) -> web.AppRunner:
    """Every process may take webhook requests (behind a load balancer): an update Telegram
    retried onto another process is recognised by its id and acknowledged without effect."""
    secret = settings.telegram_webhook_secret or ""
    if not SECRET.match(secret):
        raise ConfigError(
            "webhook mode needs THREATWATCH_TELEGRAM_WEBHOOK_SECRET: 16-256 characters of "
            "A-Z, a-z, 0-9, _ and -"
        )
    url = settings.telegram_webhook_url or ""
    path = urlsplit(url).path or "/"

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("telegram webhook: request without the right secret token refused")
            return web.Response(status=403)
        try:
            update = Update.de_json(await request.json(), application.bot)
        except ValueError:
            return web.Response(status=400)
        if update is None:
            return web.Response(status=400)
        try:
            fresh = await first_time(updates, update, utcnow())
        except ThreatwatchError as exc:  # not acknowledged: Telegram delivers it again later
            log.warning("telegram webhook: update %s not taken: %s", update.update_id, exc)
            return web.Response(status=503)
        if fresh:
            await application.update_queue.put(update)
        return web.Response(text="ok")

    app = web.Application(client_max_size=1_000_000)
    app.router.add_post(path, receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(
        runner, settings.telegram_webhook_listen, settings.telegram_webhook_port
    ).start()
    await application.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
    log.info(
        "telegram webhook listening on %s:%s%s",
        settings.telegram_webhook_listen,
        settings.telegram_webhook_port,
        path,
    )
    return runner
