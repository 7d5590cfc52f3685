"""Handlers for admin commands: topics, seeds, counter-examples, feeds, preview (neutral).
The dispatcher has already checked that the sender is one of the bot's admins."""

from __future__ import annotations

from bot.adapters.chat import args as check
from bot.adapters.chat.context import CommandContext
from bot.adapters.chat.handlers import Args
from bot.core.errors import BadArgument
from bot.messages.alerts import when
from bot.messages.replies import (
    Document,
    Reply,
    ReplyBuilder,
    bold,
    clip,
    code,
    italic,
    link,
    text_reply,
)

MAX_SEED_CHARS = 50_000


async def topic_add(ctx: CommandContext, args: Args) -> Reply:
    name = check.topic(args.words[0])
    description = check.free_text(
        args.text.split(None, 1)[1] if len(args.words) > 1 else "", what="description"
    )
    topic = ctx.service.topics.add_topic(name, description)
    return text_reply(
        ("✅ Topic ", bold(topic.name), f" added (threshold {topic.threshold:.2f}, no seeds yet)."),
        f"Next: /seed_add {topic.name} <url>, then /preview {topic.name}.",
    )


async def topic_remove(ctx: CommandContext, args: Args) -> Reply:
    name = check.topic(args.words[0])
    ctx.service.topics.remove_topic(name)
    return text_reply(("🗑 Topic ", bold(name), " removed with its seeds and subscriptions."))


async def threshold(ctx: CommandContext, args: Args) -> Reply:
    before, after = ctx.service.topics.set_threshold(check.topic(args.words[0]), args.words[1])
    return text_reply(
        ("✅ ", bold(after.name), f": threshold {before.threshold:.2f} → {after.threshold:.2f}"),
        f"See what it would match: /preview {after.name}",
    )


async def topic_enable(ctx: CommandContext, args: Args) -> Reply:
    topic = ctx.service.topics.set_topic_enabled(check.topic(args.words[0]), True)
    return text_reply(("✅ Topic ", bold(topic.name), " enabled."))


async def topic_disable(ctx: CommandContext, args: Args) -> Reply:
    topic = ctx.service.topics.set_topic_enabled(check.topic(args.words[0]), False)
    return text_reply(
        ("⏸ Topic ", bold(topic.name), " disabled: it matches nothing until enabled.")
    )


async def seed_add(ctx: CommandContext, args: Args) -> Reply:
    topic = check.topic(args.words[0])
    if len(args.words) > 1:
        seed, created = await ctx.service.topics.add_seed(topic, url=check.url(args.words[1]))
    elif ctx.replied_text:
        text = ctx.replied_text.strip()
        if len(text) > MAX_SEED_CHARS:
            raise BadArgument(f"replied text too long ({MAX_SEED_CHARS} characters at most)")
        # a chat message has no headline line of its own: keep all of it as text
        title = clip(text.splitlines()[0], 120)
        seed, created = await ctx.service.topics.add_seed(topic, text=text, title=title)
    else:
        raise BadArgument("give a URL, or reply to a message with /seed_add <topic>")
    verb = "added" if created else "already a seed"
    return text_reply(
        (f"✅ Seed {seed.id} {verb} to ", bold(topic), ": ", italic(clip(seed.title, 160)))
    )


async def seed_remove(ctx: CommandContext, args: Args) -> Reply:
    topic = check.topic(args.words[0])
    seed_id = check.count(args.words[1].lstrip("#"), high=10**9, what="seed id")
    if seed_id not in {s.id for s in ctx.service.topics.seeds(topic)}:
        raise BadArgument(f"topic {topic} has no seed {seed_id}: see /seeds {topic}")
    ctx.service.topics.remove_seed(seed_id)
    return text_reply((f"🗑 Seed {seed_id} removed from ", bold(topic), "."))


async def seeds(ctx: CommandContext, args: Args) -> Reply:
    topic = check.topic(args.words[0])
    rows = ctx.service.topics.seeds(topic)
    b = ReplyBuilder().line(bold(f"Seeds of {topic} ({len(rows)})"))
    for kind, label in (("positive", "Seeds"), ("counter", "Counter-examples")):
        group = [s for s in rows if s.kind == kind]
        if group:
            b.blank().line(bold(f"{label}:"))
            for s in group:
                origin = link("source", s.origin) if s.origin.startswith("http") else s.origin
                b.line(code(str(s.id)), " ", clip(s.title, 120), " · ", origin)
    return b.build()


async def counter_add(ctx: CommandContext, args: Args) -> Reply:
    topic = check.topic(args.words[0])
    seed, created = await ctx.service.topics.add_counter_example(
        topic, check.url_or_alert_id(args.words[1])
    )
    verb = "added" if created else "already a counter-example"
    return text_reply(
        (
            f"✅ Counter-example {seed.id} {verb} to ",
            bold(topic),
            ": ",
            italic(clip(seed.title, 160)),
        ),
        "Reporting like this should not match this topic.",
    )


async def feed_add(ctx: CommandContext, args: Args) -> Reply:
    feed, created = await ctx.service.feeds.add_feed(check.url(args.words[0]))
    verb = "added; it is polled at the next tick" if created else "already present"
    return text_reply((f"✅ Feed {feed.id} {verb}: ", clip(feed.url, 200)))


async def feed_remove(ctx: CommandContext, args: Args) -> Reply:
    feed = ctx.service.feeds.remove_feed(args.words[0])
    return text_reply((f"🗑 Feed {feed.id} removed: ", clip(feed.url, 200)))


async def feeds(ctx: CommandContext, args: Args) -> Reply:
    rows = ctx.service.feeds.list_feeds()
    if not rows:
        return text_reply(
            "No feeds. Add one with /feed_add <url> or send an OPML file with caption /feeds_import."
        )
    b = ReplyBuilder().line(bold(f"Feeds ({len(rows)})"))
    for f in rows:
        health = "ok" if f.consecutive_failures == 0 else f"{f.consecutive_failures} failures"
        checked = when(f.last_success_at) if f.last_success_at else "never"
        b.line(
            code(str(f.id)),
            f" {f.status.value} · {health} · ",
            link(clip(f.name or f.url, 80), f.url),
            italic(f" · last ok {checked}"),
        )
        if f.last_error:
            b.line(italic(f"   {clip(f.last_error, 160)}"))
    return b.build()


async def feeds_import(ctx: CommandContext, args: Args) -> Reply:
    if ctx.attachment is None:
        raise BadArgument("send an OPML file with the caption /feeds_import")
    data = await ctx.attachment()  # the service refuses an oversize file (MAX_OPML_BYTES)
    result = await ctx.service.feeds.import_opml(data)
    b = ReplyBuilder().line(
        bold("OPML imported: "),
        f"{len(result.added)} new, {len(result.existing)} already present, {len(result.refused)} refused",
    )
    for url, reason in result.refused[:10]:
        b.line("• ", clip(url, 100), italic(f" {clip(reason, 100)}"))
    return b.build()


async def feeds_export(ctx: CommandContext, args: Args) -> Reply:
    opml = ctx.service.feeds.export_opml().encode("utf-8")
    b = ReplyBuilder().line(f"{len(ctx.service.feeds.list_feeds())} feeds as OPML.")
    return b.build(document=Document("threatwatch-feeds.opml", opml))


async def preview(ctx: CommandContext, args: Args) -> Reply:
    topic = check.topic(args.words[0])
    days = check.days(args.words[1]) if len(args.words) > 1 else 7
    p = ctx.service.topics.preview(topic, days)
    b = ReplyBuilder().line(
        bold(f"Preview of {p.topic}"), f" · last {p.days} days · threshold {p.threshold:.2f}"
    )
    b.line(
        f"{p.scored} stored articles scored: {p.would_match} would match now, {p.matched_before} matched on arrival"
    )
    b.line(f"(+{p.newly_matching} newly matching, −{p.no_longer_matching} no longer matching)")
    for article, score in p.top:
        b.blank().line(f"{score.score:.2f} ", link(clip(article.title, 160), article.url))
        b.line(italic(f"{article.source or 'unknown source'} · {when(article.published)}"))
    return b.build()
