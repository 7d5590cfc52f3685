"""slack-sdk's AsyncWebClient, observed: every Web API call the bot makes (posts, updates, file
uploads, auth.test, conversations.*, apps.connections.open for Socket Mode) that fails is
reported with its method and code: the HTTP status when it is not 200, else Slack's own error
name ("channel_not_found", "invalid_auth"…), or timeout / network when no answer came."""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.adapters.slack.sink import SLACK
from bot.deliver.sink import ApiErrorObserver

UPLOAD = "files.upload"  # the upload to the URL files.getUploadURLExternal issued
DOWNLOAD = "files.download"  # a shared file fetched from its url_private_download


def api_error_code(exc: SlackApiError) -> str:
    status = getattr(exc.response, "status_code", None)
    if isinstance(status, int) and status != 200:
        return str(status)
    data = getattr(exc.response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return str(status) if status is not None else "other"


def failure_code(exc: BaseException) -> str:
    """timeout / network for an exception that means no answer came; else its HTTP status."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    status = getattr(exc, "status", None)  # aiohttp.ClientResponseError
    return str(status) if isinstance(status, int) else "network"


class ObservedWebClient(AsyncWebClient):
    def __init__(self, *args: Any, on_api_error: ApiErrorObserver | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.on_api_error = on_api_error

    def report(self, method: str, code: str) -> None:
        if self.on_api_error is not None:
            self.on_api_error(SLACK, method, code)

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        try:
            return await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            self.report(api_method, api_error_code(exc))
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.report(api_method, failure_code(exc))
            raise

    # files_upload_v2's step 2 posts the bytes to the issued URL outside api_call; slack-sdk
    # names that step _upload_file (if it is renamed, uploads are still counted by steps 1 and 3)
    async def _upload_file(self, **kwargs: Any) -> Any:
        try:
            result = await super()._upload_file(**kwargs)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.report(UPLOAD, failure_code(exc))
            raise
        if result.status != 200:
            self.report(UPLOAD, str(result.status))
        return result
