"""python-telegram-bot's HTTP requests, observed: every Bot API call the bot makes (sends,
edits, photo and document uploads, getUpdates, getMe, setWebhook, file downloads) that fails is
reported with its method and HTTP status, or timeout / network when no answer came."""

from __future__ import annotations

from typing import Any

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.adapters.telegram.sink import TELEGRAM
from bot.deliver.sink import ApiErrorObserver

DOWNLOAD = "download"  # a file fetched from the file URL (getFile's path), not an API method


class ObservedRequest(HTTPXRequest):
    def __init__(
        self, observe: ApiErrorObserver | None, *, file_url: str = "", **options: Any
    ) -> None:
        super().__init__(**options)
        self.observe = observe
        self.file_url = file_url

    def method_of(self, url: str) -> str:
        """The API method: the last segment of ``{base}{token}/{method}`` (never the token)."""
        if self.file_url and url.startswith(self.file_url):
            return DOWNLOAD
        return url.rsplit("/", 1)[-1].split("?", 1)[0] or "?"

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        try:
            status, payload = await super().do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        except TimedOut:
            self._report(url, "timeout")
            raise
        except NetworkError:
            self._report(url, "network")
            raise
        if not 200 <= status <= 299:
            self._report(url, str(status))
        return status, payload

    def _report(self, url: str, code: str) -> None:
        if self.observe is not None:
            self.observe(TELEGRAM, self.method_of(url), code)
