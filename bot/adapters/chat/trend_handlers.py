"""`/trend [topic] [days]`: a topic's trend chart as a picture with a short caption, open to
everyone. The topic defaults to the chat's only subscription (or the only topic); days to 30."""

from __future__ import annotations

from bot.adapters.chat import args as check
from bot.adapters.chat.context import CommandContext
from bot.adapters.chat.handlers import Args
from bot.core.errors import BadArgument
from bot.messages.replies import Document, Reply, ReplyBuilder, bold, italic
from bot.service.trends import TrendChart, parse_days


def trend_arguments(words: list[str]) -> tuple[str | None, int | None]:
    """(topic, days): a number is the days, a word the topic, in either order."""
    topic: str | None = None
    days: int | None = None
    for word in words:
        if word.lstrip("+-").replace(".", "", 1).isdigit() or topic is not None:
            if days is not None:
                raise BadArgument(f"unexpected argument {word[:30]!r}")
            days = parse_days(word)
        else:
            topic = check.topic(word)
    return topic, days


def trend_caption(chart: TrendChart) -> ReplyBuilder:
    t = chart.trend
    b = ReplyBuilder().line(bold(f"Trend · {t.topic}"), f" · last {len(t.days)} days")
    b.line(
        f"{t.total_matches} matches in {t.total_stories} stories · "
        f"7-day average {t.average[-1]:.1f}/day · last day {t.matches[-1]}"
    )
    if t.sources:
        top = ", ".join(f"{name} ({n})" for name, n in t.sources[:3])
        b.line(italic(f"top sources: {top}"))
    return b


async def trend(ctx: CommandContext, args: Args) -> Reply:
    topic, days = trend_arguments(args.words)
    chart = await ctx.service.trends.trend_chart(topic, days, ctx.chat)
    return trend_caption(chart).build(photo=Document(chart.filename, chart.png))
