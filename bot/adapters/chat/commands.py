"""THE command table. It drives routing (bot/adapters/chat/dispatch.py), /help, Telegram's
setMyCommands menu and the README's command section (tests/unit/adapters/test_chat_commands.py keeps the
README in step). Slack uses the same table as `/threatwatch <name> …`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.adapters.chat import admin_handlers as admin
from bot.adapters.chat import handlers as h
from bot.adapters.chat import trend_handlers as trends
from bot.adapters.chat.context import CommandContext
from bot.adapters.chat.handlers import Args
from bot.messages.replies import Reply, ReplyBuilder, bold, code, italic

Handler = Callable[[CommandContext, Args], Awaitable[Reply]]

INTRO = (
    "Threatwatch watches news feeds for new reporting on its watch topics (threats and "
    "attacks by Iran-backed militias on US forces, and whatever topics its admins add) and "
    "posts short, explained alerts to the chats that subscribe."
)


@dataclass(frozen=True)
class Command:
    name: str
    usage: str  # arguments, e.g. "<topic> <value>"; "" when none
    description: str  # one line, shown in /help, the platform's menu and the README
    handler: Handler
    admin_only: bool = False
    min_args: int = 0
    max_args: int | None = 0  # None: free text follows
    # the answer concerns everyone in the chat (Slack posts it in the channel; other answers go
    # only to the asker)
    for_chat: bool = False

    def usage_line(self, prefix: str = "/") -> str:
        return f"{prefix}{self.name}" + (f" {self.usage}" if self.usage else "")


async def start(ctx: CommandContext, args: Args) -> Reply:
    b = ReplyBuilder().line(bold("Threatwatch")).line(INTRO).blank()
    b.line("Start with ", code(f"{ctx.command_prefix}subscribe"), " in this chat, then ")
    b.line(
        code(f"{ctx.command_prefix}latest"),
        " and ",
        code(f"{ctx.command_prefix}why <alert id>"),
        ".",
    )
    return _with_commands(b, ctx).build()


async def help_(ctx: CommandContext, args: Args) -> Reply:
    return _with_commands(ReplyBuilder().line(bold("Threatwatch commands")), ctx).build()


def _with_commands(b: ReplyBuilder, ctx: CommandContext) -> ReplyBuilder:
    for title, admin_only in (("Everyone", False), ("Admins", True)):
        if admin_only and not ctx.is_bot_admin:
            b.blank().line(italic("Admin commands (topics, seeds, feeds) are listed for admins."))
            continue
        b.blank().line(bold(f"{title}:"))
        for command in COMMANDS:
            if command.admin_only == admin_only:
                b.line(code(command.usage_line(ctx.command_prefix)), " — ", command.description)
    return b


C = Command
COMMANDS: tuple[Command, ...] = (
    C("start", "", "what this bot does, and its commands", start),
    C("help", "", "every command with a one-line description", help_),
    C("topics", "", "watch topics: description, seeds, threshold, matches in 7 days", h.topics),
    C(
        "subscribe",
        "[topic]",
        "send alerts of a topic (default: all) to this chat or forum topic",
        h.subscribe,
        max_args=1,
        for_chat=True,
    ),
    C(
        "unsubscribe",
        "[topic]",
        "stop alerts of a topic (default: all) in this chat",
        h.unsubscribe,
        max_args=1,
        for_chat=True,
    ),
    C(
        "settings",
        "[key value…]",
        "show or change mode (instant/digest HH:MM), time zone, min score, quiet hours, "
        "threading, spike alerts",
        h.settings,
        max_args=3,
        for_chat=True,
    ),
    C("latest", "[topic] [n]", "newest matches, newest first", h.latest, max_args=2),
    C(
        "search",
        "<text>",
        "semantic search over every stored article, ranked with scores",
        h.search,
        min_args=1,
        max_args=None,
    ),
    C(
        "why",
        "<alert id>",
        "why an alert matched: score vs threshold, nearest seed, best passage, feedback",
        h.why,
        min_args=1,
        max_args=1,
    ),
    C(
        "similar",
        "<url or alert id>",
        "stored articles most similar to an article",
        h.similar,
        min_args=1,
        max_args=1,
    ),
    C(
        "trend",
        "[topic] [days]",
        "a chart of a topic's matches and stories per day, 7-day average, top sources",
        trends.trend,
        max_args=2,
        for_chat=True,
    ),
    C("status", "", "feed health, last poll cycle, queue length, version", h.status),
    C("topic_add", "<name> <description>", "add a watch topic", admin.topic_add, True, 2, None),
    C(
        "topic_remove",
        "<name>",
        "remove a topic with its seeds and subscriptions",
        admin.topic_remove,
        True,
        1,
        1,
    ),
    C(
        "threshold",
        "<topic> <value|auto>",
        "set a topic's match threshold (0 to 1), or auto (chosen by cross-validation)",
        admin.threshold,
        True,
        2,
        2,
    ),
    C("topic_enable", "<topic>", "start matching a topic again", admin.topic_enable, True, 1, 1),
    C(
        "topic_disable",
        "<topic>",
        "stop matching a topic (kept, with its seeds)",
        admin.topic_disable,
        True,
        1,
        1,
    ),
    C(
        "seed_add",
        "<topic> [url]",
        "add a seed from a web page, or reply to a message with it",
        admin.seed_add,
        True,
        1,
        2,
    ),
    C("seed_remove", "<topic> <seed id>", "remove a seed", admin.seed_remove, True, 2, 2),
    C("seeds", "<topic>", "a topic's seeds and counter-examples", admin.seeds, True, 1, 1),
    C(
        "counter_add",
        "<topic> <url or alert id>",
        "add a counter-example: similar-looking reporting that must not match",
        admin.counter_add,
        True,
        2,
        2,
    ),
    C("feed_add", "<url>", "add a feed (RSS, Atom, RDF or JSON Feed)", admin.feed_add, True, 1, 1),
    C("feed_remove", "<id or url>", "remove a feed", admin.feed_remove, True, 1, 1),
    C("feeds", "", "feeds with their health", admin.feeds, True),
    C(
        "feeds_import",
        "",
        "import feeds: send an OPML file with this as its caption",
        admin.feeds_import,
        True,
    ),
    C("feeds_export", "", "the feed list as an OPML file", admin.feeds_export, True),
    C(
        "preview",
        "<topic> [days]",
        "what the topic as configured now would have matched in the last days (default 7)",
        admin.preview,
        True,
        1,
        2,
    ),
)

BY_NAME: dict[str, Command] = {c.name: c for c in COMMANDS}


def readme_section() -> str:
    """The README's command table, generated from COMMANDS."""
    rows = ["| command | who | what it does |", "|---|---|---|"]
    for c in COMMANDS:
        who = "admins" if c.admin_only else "everyone"
        rows.append(f"| `{c.usage_line()}` | {who} | {c.description} |")
    return "\n".join(rows) + "\n"
