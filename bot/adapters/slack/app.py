"""The Slack adapter: a slack-bolt AsyncApp whose routing is all in ``register()``, turning slash
commands (``/threatwatch <command> [args]``), app mentions, direct messages and button presses
into neutral command contexts for bot/adapters/chat/dispatch.py, and rendering the replies as Block Kit.

Slack wants an acknowledgement within 3 seconds. A command that answers within
FAST_ANSWER_SECONDS is answered in the acknowledgement itself; a slower one (search, preview,
fetching a seed) is acknowledged with a short notice and answered through the command's
``response_url`` when done."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import aiohttp
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.chat.commands import BY_NAME
from bot.adapters.chat.context import ChatKind, CommandContext
from bot.adapters.chat.dispatch import act, dispatch
from bot.adapters.slack.client import DOWNLOAD, ObservedWebClient, failure_code
from bot.adapters.slack.incoming import split_command, without_mention
from bot.adapters.slack.photos import upload_photo
from bot.adapters.slack.render import PREFIX, parse_action, render
from bot.adapters.slack.sink import SLACK, error_code, post_reply
from bot.adapters.slack.transport import Transport, make_transport
from bot.core.channels import ChannelKey
from bot.core.errors import BadArgument, Refused, ThreatwatchError
from bot.core.models import utcnow
from bot.core.settings import Settings
from bot.deliver.sink import ApiErrorObserver
from bot.messages.replies import Reply, error_reply, text_reply
from bot.service.bot_service import BotService
from bot.service.feeds import MAX_OPML_BYTES

log = logging.getLogger(__name__)

FAST_ANSWER_SECONDS = 2.0  # answer in the ack when the work is done by then (Slack waits 3 s)
START_RETRY_SECONDS = 5.0
WORKING = "⏳ Working on it…"
MAX_DOWNLOAD_BYTES = MAX_OPML_BYTES  # the OPML import's own cap: nothing larger is read
EPHEMERAL, IN_CHANNEL = "ephemeral", "in_channel"
KEEP_DELIVERY_IDS_SECONDS = 86_400.0  # Slack retries a delivery within minutes
SLACK_ERRORS = (SlackApiError, SlackClientError, aiohttp.ClientError, OSError, TimeoutError)


class UpdateLog(Protocol):
    """Where the ids of deliveries already taken are kept (the store implements it)."""

    def first_update(
        self, source: str, key: str, now: datetime, *, keep_seconds: float
    ) -> bool: ...


def build_client(
    settings: Settings, on_api_error: ApiErrorObserver | None = None
) -> AsyncWebClient:
    """The Web API client; every failed call it makes is told to ``on_api_error``."""
    base = (
        settings.slack_api_url
        if settings.slack_api_url.endswith("/")
        else settings.slack_api_url + "/"
    )
    return ObservedWebClient(
        token=settings.slack_bot_token,
        base_url=base,
        timeout=int(settings.slack_request_timeout),
        on_api_error=on_api_error,
    )


def response_type(name: str, reply: Reply) -> str:
    """In the channel when the answer concerns the channel (subscriptions, settings), else only
    for the asker; refusals and errors always only for the asker."""
    command = BY_NAME.get(name.lower())
    return (
        IN_CHANNEL if command is not None and command.for_chat and not reply.is_error else EPHEMERAL
    )


def register(app: AsyncApp, adapter: SlackAdapter) -> None:
    """All of the Slack routing: what arrives → which adapter method."""
    app.use(adapter.once)  # first: a delivery Slack retried is acknowledged, not handled again
    app.command(re.compile(r"^/"))(adapter.on_slash_command)  # /threatwatch, or a renamed one
    app.event("app_mention")(adapter.on_mention)
    app.event("message")(adapter.on_message)
    app.action(re.compile(r"^threatwatch:"))(adapter.on_button)


def delivery_key(body: dict[str, Any]) -> str | None:
    """An event's event_id, the same on each of Slack's retries of it; None for commands and
    button presses, which Slack does not retry (each arrives once, on one process)."""
    key = body.get("event_id")
    return str(key) if key else None


class SlackAdapter:
    def __init__(
        self,
        settings: Settings,
        service: BotService,
        client: AsyncWebClient,
        *,
        updates: UpdateLog,
    ):
        self.settings = settings
        self.service = service
        self.client = client
        self.updates = updates
        self.app = AsyncApp(
            client=client,
            signing_secret=settings.slack_signing_secret or "",
            # Socket Mode requests are not signed; HTTP mode requests always are
            request_verification_enabled=bool(settings.slack_signing_secret),
            process_before_response=False,
            logger=logging.getLogger("slack_bolt"),
        )
        register(self.app, self)
        self.transport: Transport = make_transport(self.app, settings)
        self.bot_user_id: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- lifecycle --------------------------------------------------------------------------
    async def start(self, stop: asyncio.Event) -> bool:
        """Check the bot token (retrying while Slack is unreachable), then start receiving."""
        while not stop.is_set():
            try:
                auth = await self.client.auth_test()
                self.bot_user_id = auth.get("user_id")
                break
            except SLACK_ERRORS as exc:
                log.warning(
                    "slack: auth.test failed (%s); retrying in %.0fs", exc, START_RETRY_SECONDS
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), START_RETRY_SECONDS)
        if stop.is_set():
            return False
        where = await self.transport.start()
        log.info("slack: bot %s receiving commands over %s", self.bot_user_id, where)
        return True

    async def stop(self) -> None:
        await self.transport.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def once(
        self, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """Bolt middleware: several processes may receive Slack's deliveries (HTTP mode behind a
        load balancer, several Socket Mode connections), and Slack retries one that was not
        acknowledged in time, perhaps onto another process. The first arrival of an id is
        handled; a repeat is acknowledged and dropped."""
        key = delivery_key(body)
        if key is not None:
            try:
                fresh = await asyncio.to_thread(
                    self.updates.first_update,
                    SLACK,
                    key,
                    utcnow(),
                    keep_seconds=KEEP_DELIVERY_IDS_SECONDS,
                )
            except ThreatwatchError as exc:  # the database is down: handling it is better
                log.warning("slack: could not record delivery %s: %s", key, exc)
                fresh = True
            if not fresh:
                log.info("slack: delivery %s was already taken; acknowledged", key)
                return BoltResponse(status=200, body="")
        await next()
        return None

    def _background(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- contexts ---------------------------------------------------------------------------
    def context_for(
        self, channel_id: str, user_id: str, title: str | None = None
    ) -> CommandContext:
        private = channel_id.startswith("D")

        async def is_member() -> bool:
            return await self.user_in_channel(channel_id, user_id)

        return CommandContext(
            service=self.service,
            chat=ChannelKey(SLACK, channel_id, "", title),
            chat_kind=ChatKind.PRIVATE if private else ChatKind.GROUP,
            user_id=user_id,
            is_bot_admin=user_id in self.settings.slack_admins,
            is_chat_admin=is_member,
            command_prefix=PREFIX,
        )

    async def user_in_channel(self, channel_id: str, user_id: str) -> bool:
        """Only a channel's members may change what it receives."""
        cursor = None
        try:
            while True:
                page = await self.client.conversations_members(
                    channel=channel_id, cursor=cursor, limit=1000
                )
                if user_id in page.get("members", []):
                    return True
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SLACK_ERRORS as exc:
            log.warning("slack: conversations.members %s: %s", channel_id, exc)
        raise Refused("only members of this channel can change its subscriptions and settings")

    async def ensure_bot_in_channel(self, channel_id: str) -> None:
        """Alerts can only be posted where the bot is a member: join a public channel, or ask
        to be invited to a private one."""
        if channel_id.startswith("D"):
            return
        try:
            info = await self.client.conversations_info(channel=channel_id)
            channel = info.get("channel") or {}
            if channel.get("is_member"):
                return
            if channel.get("is_archived"):
                raise Refused("this channel is archived")
            if not channel.get("is_private"):
                await self.client.conversations_join(channel=channel_id)
                return
        except SlackApiError as exc:
            log.info("slack: cannot check or join %s: %s", channel_id, error_code(exc))
        except SLACK_ERRORS as exc:
            log.warning("slack: cannot check or join %s: %s", channel_id, exc)
        raise Refused("invite me to this channel first (/invite @Threatwatch), then subscribe")

    async def run_command(self, ctx: CommandContext, name: str, rest: str) -> Reply:
        """The command's reply; never raises (Slack would show the user a bare failure)."""
        try:
            if name.lower() == "subscribe":  # for admins too: alerts need the bot in the channel
                await self.ensure_bot_in_channel(ctx.chat.chat_id)
            return await dispatch(ctx, name, rest)
        except Refused as exc:
            return error_reply(str(exc))
        except Exception:
            log.exception("slack: command %s failed", name)
            return error_reply("internal error: it was logged; try again later")

    # --- slash commands ---------------------------------------------------------------------
    async def on_slash_command(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        name, rest = split_command(body.get("text", ""))
        ctx = self.context_for(body["channel_id"], body["user_id"], body.get("channel_name"))
        work = self._background(self.run_command(ctx, name, rest))
        done, _ = await asyncio.wait({work}, timeout=FAST_ANSWER_SECONDS)
        if done:
            reply = work.result()
            await ack(response_type=response_type(name, reply), **render(reply).payload())
            await self._send_document(ctx, reply)
            return
        await ack(text=WORKING, response_type=EPHEMERAL)
        reply = await work
        await respond(
            response_type=response_type(name, reply),
            replace_original=False,
            **render(reply).payload(),
        )
        await self._send_document(ctx, reply)

    async def _send_document(
        self, ctx: CommandContext, reply: Reply, thread_ts: str | None = None
    ) -> None:
        """A file (the OPML export) goes to the asker's direct messages with the bot: it is
        for them, and a command's response cannot carry a file. A picture (the trend chart)
        is uploaded into the channel (or thread) the command came from, for everyone there."""
        if reply.photo is not None:
            await upload_photo(self.client, ctx.chat.chat_id, reply.photo, thread_ts)
        if reply.document is None or ctx.user_id is None:
            return
        try:
            opened = await self.client.conversations_open(users=ctx.user_id)
            await post_reply(self.client, opened["channel"]["id"], reply)
        except SLACK_ERRORS as exc:
            log.warning(
                "slack: could not send %s to %s: %s", reply.document.filename, ctx.user_id, exc
            )

    # --- mentions and direct messages ---------------------------------------------------------
    async def on_mention(self, body: dict[str, Any]) -> None:
        event = body["event"]
        await self._message_command(event, without_mention(event.get("text", ""), self.bot_user_id))

    async def on_message(self, body: dict[str, Any]) -> None:
        """A direct message to the bot is a command without the mention."""
        event = body["event"]
        if event.get("channel_type") != "im" or event.get("bot_id"):
            return
        if event.get("subtype") not in (None, "file_share"):  # edits, joins, deletions…
            return
        await self._message_command(event, event.get("text", ""))

    async def _message_command(self, event: dict[str, Any], text: str) -> None:
        user, channel = event.get("user"), event.get("channel")
        if not user or not channel:
            return
        name, rest = split_command(text)
        ctx = self.context_for(channel, user)
        files = [f for f in event.get("files") or [] if f.get("url_private_download")]
        if files:  # e.g. an OPML file sent with "feeds_import"
            ctx.attachment_name = files[0].get("name")
            ctx.attachment = partial(self.download, files[0]["url_private_download"])
        reply = await self.run_command(ctx, name, rest)
        message = render(reply).payload()
        thread = event.get("thread_ts") or event.get("ts")
        try:
            if ctx.chat_kind is ChatKind.PRIVATE or response_type(name, reply) == IN_CHANNEL:
                await self.client.chat_postMessage(
                    channel=channel,
                    thread_ts=thread if ctx.chat_kind is not ChatKind.PRIVATE else None,
                    unfurl_links=False,
                    unfurl_media=False,
                    **message,
                )
            else:
                await self.client.chat_postEphemeral(
                    channel=channel, user=user, thread_ts=event.get("thread_ts"), **message
                )
            await self._send_document(
                ctx, reply, thread if ctx.chat_kind is not ChatKind.PRIVATE else None
            )
        except SLACK_ERRORS as exc:
            log.warning("slack: answer to %s in %s failed: %s", user, channel, exc)

    async def download(self, url: str) -> bytes:
        """A file shared with a command (files:read), at most MAX_DOWNLOAD_BYTES."""
        headers = {"Authorization": f"Bearer {self.settings.slack_bot_token}"}
        timeout = aiohttp.ClientTimeout(total=self.settings.slack_request_timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, headers=headers) as response,
            ):
                response.raise_for_status()
                data = await response.content.read(MAX_DOWNLOAD_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            if isinstance(self.client, ObservedWebClient):
                self.client.report(DOWNLOAD, failure_code(exc))
            raise ThreatwatchError(f"could not download the file: {exc}") from exc
        if len(data) > MAX_DOWNLOAD_BYTES:
            raise BadArgument(f"file too large ({MAX_DOWNLOAD_BYTES // 1000} kB at most)")
        return data

    # --- buttons ----------------------------------------------------------------------------
    async def on_button(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id"
        )
        user = (body.get("user") or {}).get("id")
        if not channel or not user:
            return
        ctx = self.context_for(channel, user)
        notice, reply = await act(
            ctx, parse_action(actions[0].get("action_id", "")), actions[0].get("value", "")
        )
        # both only for the presser: a vote's thanks, the explanation behind Why?
        answers = [text_reply(notice)] if notice else []
        answers += [reply] if reply is not None else []
        for answer in answers:
            await respond(
                response_type=EPHEMERAL, replace_original=False, **render(answer).payload()
            )
