"""Handlers for everyone's commands: topics, subscriptions, settings and queries (neutral)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.adapters.chat import args as check
from bot.adapters.chat.context import CommandContext
from bot.core.channels import DeliveryMode
from bot.core.errors import BadArgument, Refused
from bot.messages.alerts import foreign, title_of, when, why_reply
from bot.messages.replies import Reply, ReplyBuilder, bold, clip, code, italic, link, text_reply
from bot.service.queries import SearchHit

DEFAULT_LATEST = 5


@dataclass(frozen=True)
class Args:
    words: list[str]  # the arguments split on white space
    text: str  # everything after the command, as typed


class NotChatAdmin(Refused):
    def __init__(self) -> None:
        super().__init__(
            "only this chat's administrators can change its subscriptions and settings"
        )


async def topics(ctx: CommandContext, args: Args) -> Reply:
    rows = ctx.service.topics.summaries()
    if not rows:
        return text_reply("No topics yet. An admin can add one with /topic_add.")
    subscribed = {s.topic for s in ctx.service.chats.subscriptions(ctx.chat)}
    b = ReplyBuilder().line(bold(f"Watch topics ({len(rows)})"))
    for row in rows:
        t = row.topic
        flags = [] if t.enabled else ["disabled"]
        if t.name in subscribed:
            flags.append("subscribed here")
        b.blank().line(bold(t.name), f" ({', '.join(flags)})" if flags else "")
        if t.description:
            b.line(clip(t.description, 300))
        b.line(
            italic(
                f"{row.seeds} seeds · {row.counter_examples} counter-examples · "
                f"threshold {t.threshold:.2f} · {row.matches_7d} matches in 7 days"
            )
        )
    return b.build()


async def subscribe(ctx: CommandContext, args: Args) -> Reply:
    if not await ctx.may_manage_chat():
        raise NotChatAdmin()
    topic = check.topic(args.words[0]) if args.words else None
    names = ctx.service.chats.subscribe(ctx.chat, topic)
    where = " (this forum topic)" if ctx.chat.thread_id else ""
    return text_reply(
        ("✅ Subscribed", where, " to ", bold(", ".join(names)), "."),
        "Alerts will arrive here; /settings changes how.",
    )


async def unsubscribe(ctx: CommandContext, args: Args) -> Reply:
    if not await ctx.may_manage_chat():
        raise NotChatAdmin()
    topic = check.topic(args.words[0]) if args.words else None
    names = ctx.service.chats.unsubscribe(ctx.chat, topic)
    if not names:
        return text_reply("This chat has no subscriptions.")
    return text_reply(("Unsubscribed from ", bold(", ".join(names)), "."))


async def settings(ctx: CommandContext, args: Args) -> Reply:
    if args.words:
        if not await ctx.may_manage_chat():
            raise NotChatAdmin()
        current = ctx.service.chats.update_chat_settings(ctx.chat, args.words[0], args.words[1:])
        title = "✅ Settings saved"
    else:
        current = ctx.service.chats.chat_settings(ctx.chat)
        title = "Settings of this chat"
    mode = current.mode.value
    if current.mode is DeliveryMode.DIGEST:
        mode += f" at {current.digest_at} ({current.timezone})"
    subs = ctx.service.chats.subscriptions(ctx.chat)
    b = ReplyBuilder().line(bold(title))
    b.line("mode: ", code(mode))
    b.line("time zone: ", code(current.timezone))
    b.line(
        "minimum score: ", code("off" if current.min_score is None else f"{current.min_score:.2f}")
    )
    b.line("quiet hours (sent silently): ", code(current.quiet or "off"))
    b.line("later reports of a story: ", code(current.threading.value))
    b.line("activity spike alerts: ", code("on" if current.spikes else "off"))
    b.line(
        "subscriptions: ",
        ", ".join(f"{s.topic}" + ("" if s.status == "active" else f" ({s.status})") for s in subs)
        or "none",
    )
    b.blank().line(
        italic(
            "Change: /settings mode instant | mode digest 08:00 | timezone Europe/Berlin | "
            "min_score 0.6 | quiet 22:00-07:00 | threading reply|fold | spikes on|off"
        )
    )
    return b.build()


async def latest(ctx: CommandContext, args: Args) -> Reply:
    topic, limit = None, DEFAULT_LATEST
    for word in args.words:
        if word.isdigit():
            limit = check.count(word, high=20, what="n")
        elif topic is None:
            topic = check.topic(word)
        else:
            raise BadArgument(f"unexpected argument {word[:30]!r}")
    matches = ctx.service.queries.latest(topic=topic, limit=limit)
    if not matches:
        return text_reply("No matches yet" + (f" for {topic}." if topic else "."))
    b = ReplyBuilder().line(bold(f"Latest matches{' · ' + topic if topic else ''}"))
    for m in matches:
        a = m.article
        b.blank().line(code(f"#{m.id}"), " ", link(title_of(a, 200), a.url))
        b.line(
            italic(f"{a.source or 'unknown source'} · {when(a.published)}"),
            f" · {m.topic} {m.score:.2f}",
            f" · {foreign(a)}" if foreign(a) else "",
        )
    b.blank().line(italic("Details: /why <alert id>"))
    return b.build()


def _hits_reply(title: str, hits: list[SearchHit]) -> Reply:
    b = ReplyBuilder().line(bold(title))
    if not hits:
        return b.line("Nothing stored yet.").build()
    for rank, hit in enumerate(hits, start=1):
        a = hit.article
        b.blank().line(f"{rank}. ", link(clip(a.title, 200), a.url), f" · {hit.score:.2f}")
        b.line(italic(f"{a.source or 'unknown source'} · {when(a.published)}"))
        b.line(clip(hit.passage, 220))
    return b.build()


async def search(ctx: CommandContext, args: Args) -> Reply:
    query = check.free_text(args.text, what="search text")
    hits = await ctx.service.queries.search(query, limit=DEFAULT_LATEST)
    return _hits_reply(f"Search: {clip(query, 80)}", hits)


async def why(ctx: CommandContext, args: Args) -> Reply:
    explanation = ctx.service.chats.why(check.alert_id(args.words[0]))
    e = explanation
    return why_reply(e.match, e.votes_up, e.votes_down, e.reasons, version=e.topic_version)


async def similar(ctx: CommandContext, args: Args) -> Reply:
    label, hits = await ctx.service.queries.similar(check.url_or_alert_id(args.words[0]))
    return _hits_reply(f"Similar to: {clip(label, 120)}", hits)


async def status(ctx: CommandContext, args: Args) -> Reply:
    s = ctx.service.chats.status()
    b = ReplyBuilder().line(bold(f"Threatwatch {s.version}"))
    b.line(
        f"Feeds: {s.feeds_active - s.feeds_failing} healthy, {s.feeds_failing} failing, "
        f"{s.feeds_disabled} disabled"
    )
    for feed_id, url, error in s.failing:
        b.line(f"  • {feed_id} ", clip(url, 80), italic(f" {clip(error, 120)}"))
    if s.last_cycle:
        c = s.last_cycle
        b.line(
            f"Last cycle {c['started_at']}: fetched {c.get('fetched', 0)}, "
            f"not modified {c.get('not_modified', 0)}, failed {c.get('failed', 0)}, "
            f"new {c.get('new', 0)}, matched {c.get('matched', 0)}, queued {c.get('queued', 0)}"
        )
    else:
        b.line("No poll cycle has run yet.")
    b.line(f"Articles stored: {s.articles} · alerts waiting to be sent: {s.queue_pending}")
    subs = ", ".join(f"{n} {status}" for status, n in sorted(s.subscriptions.items())) or "none"
    b.line(f"Subscriptions: {subs}")
    if s.embedding:
        b.line(f"Embedding: {s.embedding}")
    return b.build()
