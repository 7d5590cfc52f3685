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

from bot.adapters.telegram.render import ALLOWED_UPDATES
from bot.core.errors import ConfigError
from bot.core.settings import Settings

log = logging.getLogger(__name__)

SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def start_webhook(settings: Settings, application: Application) -> web.AppRunner:  # type: ignore[type-arg]
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
