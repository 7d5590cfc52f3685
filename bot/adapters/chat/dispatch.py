"""Routing: a command name and its argument text → the table's handler → a neutral reply.
Refusals (bad input, not an admin) become one-line replies with the command's usage."""

from __future__ import annotations

import logging

from bot.adapters.chat.commands import BY_NAME
from bot.adapters.chat.context import CommandContext
from bot.adapters.chat.handlers import Args
from bot.core.errors import BadArgument, Refused, ThreatwatchError
from bot.messages.alerts import why_reply
from bot.messages.feedback_reasons import reason_of, reason_reply
from bot.messages.replies import Action, Reply, error_reply

log = logging.getLogger(__name__)

MAX_ARGUMENT_CHARS = 4000


async def dispatch(ctx: CommandContext, name: str, text: str) -> Reply:
    command = BY_NAME.get(name.lower())
    if command is None:
        return error_reply(
            f"unknown command {ctx.command_prefix}{name[:40]}: send {ctx.command_prefix}help "
            "for the list"
        )
    usage = command.usage_line(ctx.command_prefix)
    if command.admin_only and not ctx.is_bot_admin:
        log.info("refused %s for non-admin %s in %s", name, ctx.user_id, ctx.chat.chat_id)
        return error_reply(
            f"sorry, {ctx.command_prefix}{command.name} is for Threatwatch admins only; "
            "nothing was changed"
        )
    words = text.split()
    if len(text) > MAX_ARGUMENT_CHARS:
        return error_reply(f"arguments too long ({MAX_ARGUMENT_CHARS} characters at most)", usage)
    if len(words) < command.min_args or (
        command.max_args is not None and len(words) > command.max_args
    ):
        return error_reply("wrong number of arguments", usage)
    try:
        return await command.handler(ctx, Args(words, text.strip()))
    except Refused as exc:
        return error_reply(str(exc), usage if isinstance(exc, BadArgument) else None)
    except ThreatwatchError as exc:  # a fetch failed, the store is busy…: say so, keep running
        return error_reply(f"could not do that now: {exc}")
    except Exception:
        log.exception("command %s failed", name)
        return error_reply("internal error: it was logged; try again later")


async def act(ctx: CommandContext, action: str, value: str) -> tuple[str, Reply | None]:
    """A pressed inline button: (short notice for the presser, reply to post or None)."""
    try:
        alert_id = int(value)
        if action == Action.WHY:
            e = ctx.service.chats.why(alert_id)
            return "", why_reply(
                e.match, e.votes_up, e.votes_down, e.reasons, version=e.topic_version
            )
        if action in (Action.VOTE_UP, Action.VOTE_DOWN):
            if ctx.user_id is None:
                return "votes need a user", None
            vote = 1 if action == Action.VOTE_UP else -1
            up, down = ctx.service.chats.record_feedback(
                alert_id, ctx.chat.platform, ctx.user_id, vote
            )
            notice = f"Thanks, noted. Alert #{alert_id}: 👍 {up} · 👎 {down}"
            return notice, (reason_reply(alert_id) if vote < 0 else None)
        if (reason := reason_of(action)) is not None:
            if ctx.user_id is None:
                return "votes need a user", None
            up, down = ctx.service.chats.record_feedback(
                alert_id, ctx.chat.platform, ctx.user_id, -1, reason=reason
            )
            return f"Thanks: 👎 “{reason}” on alert #{alert_id} (👍 {up} · 👎 {down})", None
        return "unknown button", None
    except ValueError:
        return "bad button data", None
    except Refused as exc:
        return str(exc)[:190], None
