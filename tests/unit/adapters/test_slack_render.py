"""Slack's pure parts in-process: Block Kit rendering (escaping, limits, command names), what
users type (links, mentions, escapes), Slack errors → the delivery error tree, and the settings
each transport needs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.adapters.slack.incoming import plain_text, split_command, without_mention
from bot.adapters.slack.render import (
    MAX_BLOCKS,
    MAX_FALLBACK,
    MAX_SECTION,
    escape,
    parse_action,
    render,
)
from bot.adapters.slack.sink import translated_errors
from bot.adapters.slack.transport import mode_of
from bot.core.errors import ChatGone, ConfigError, RateLimited, TransientDeliveryError
from bot.core.settings import Settings
from bot.messages.replies import Action, Button, Reply, ReplyBuilder, Span, Style, bold, code, link

HOSTILE = "<!channel> <@U123> <https://evil.example|click> & *bold* `tick` _it_"


def sections(reply: Reply) -> list[str]:
    return [b["text"]["text"] for b in render(reply).blocks if b["type"] == "section"]


def unescaped_markup(text: str) -> list[str]:
    """``<…>`` sequences that Slack would read as links or mentions."""
    return re.findall(r"<[^>]*>", text)


def test_every_external_string_is_escaped() -> None:
    reply = (
        ReplyBuilder()
        .line("🚨 ", link(HOSTILE, "https://news.example/a?x=1&y=<2>"))
        .line(HOSTILE)
        .build()
    )
    [text] = sections(reply)
    assert unescaped_markup(text) == [
        "<https://news.example/a?x=1&amp;y=&lt;2&gt;|&lt;!channel&gt; "
        "&lt;@U123&gt; &lt;https://evil.example|click&gt; &amp; *bold* `tick` _it_>"
    ]
    assert "&lt;!channel&gt; &lt;@U123&gt;" in text.splitlines()[1]
    assert "<" not in render(reply).text and "&lt;!channel&gt;" in render(reply).text


def test_links_only_for_http_and_never_broken_by_a_pipe() -> None:
    [text] = sections(
        ReplyBuilder()
        .line(link("a", "javascript:alert(1)"), " ", link("b", "https://x.example/p|q r"))
        .build()
    )
    assert text == "a <https://x.example/p%7Cq%20r|b>"


def test_styles_keep_their_delimiters_balanced() -> None:
    [text] = sections(
        ReplyBuilder().line(bold(" a*b "), Span("x_y", Style.ITALIC), code("`rm`")).build()
    )
    assert text == " *a∗b* _xˍy_`ˋrmˋ`"


def test_command_names_become_slash_threatwatch() -> None:
    [text] = sections(
        ReplyBuilder()
        .line("Next: /seed_add t <url>, then /preview t; see https://x.example/latest")
        .build()
    )
    assert (
        text
        == "Next: /threatwatch seed_add t &lt;url&gt;, then /threatwatch preview t; see https://x.example/latest"
    )


def test_paragraphs_become_sections_and_buttons_an_actions_block() -> None:
    b = ReplyBuilder().line("one").line("two").blank().line("three")
    b.buttons.extend([Button("👍", Action.VOTE_UP, "7"), Button("Why?", Action.WHY, "7")])
    blocks = render(b.build()).blocks
    assert [x["type"] for x in blocks] == ["section", "section", "actions"]
    assert blocks[0]["text"]["text"] == "one\ntwo"
    assert [(e["action_id"], e["value"]) for e in blocks[2]["elements"]] == [
        ("threatwatch:up", "7"),
        ("threatwatch:why", "7"),
    ]
    assert parse_action("threatwatch:why") == "why" and parse_action("other:why") == ""


def test_long_replies_keep_to_block_kit_limits() -> None:
    b = ReplyBuilder()
    for i in range(120):
        b.line(f"paragraph {i} " + "&" * 900).blank()
    b.line(link("x" * 9000, "https://news.example/" + "y" * 4000))
    b.buttons.append(Button("Why?", Action.WHY, "1"))
    message = render(b.build())
    assert len(message.blocks) == MAX_BLOCKS
    assert message.blocks[-2]["elements"][0]["text"] == "… (truncated)"
    assert message.blocks[-1]["type"] == "actions"
    assert all(
        len(x["text"]["text"]) <= MAX_SECTION for x in message.blocks if x["type"] == "section"
    )
    assert len(message.text) <= MAX_FALLBACK and not re.search(r"&(?!amp;|lt;|gt;)", message.text)


def test_one_line_longer_than_a_section_is_cut_inside_its_text() -> None:
    [text] = sections(ReplyBuilder().line(bold("title"), " ", "<&>" * 3000).build())
    assert (
        len(text) <= MAX_SECTION and text.startswith("*title* &lt;&amp;&gt;") and text.endswith("…")
    )
    assert not re.search(r"&(?!amp;|lt;|gt;)", text)


spans = st.builds(
    Span,
    st.text(max_size=400),
    st.sampled_from(list(Style)),
    st.one_of(st.none(), st.text(max_size=60).map(lambda s: "https://n.example/" + s)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(spans, max_size=5), max_size=80))
def test_any_reply_renders_escaped_and_within_limits(lines: list[list[Span]]) -> None:
    reply = Reply(tuple(tuple(line) for line in lines))
    message = render(reply)
    assert 1 <= len(message.text) <= MAX_FALLBACK and len(message.blocks) <= MAX_BLOCKS
    for block in message.blocks:
        if block["type"] == "section":
            text = block["text"]["text"]
            assert 0 < len(text) <= MAX_SECTION
            # the only <…> are our own links, and no & is left unescaped
            for markup in unescaped_markup(text):
                assert markup.startswith(("<http://", "<https://")), markup
            assert not re.search(r"&(?!amp;|lt;|gt;)", text)
    assert "<" not in message.text and not re.search(r"&(?!amp;|lt;|gt;)", message.text)


@given(st.text(max_size=200))
def test_escape_round_trips_through_slacks_unescape(text: str) -> None:
    from bot.adapters.slack.incoming import unescape

    assert unescape(escape(text)) == text


def test_what_users_type_becomes_a_command() -> None:
    assert split_command("latest militia 3") == ("latest", "militia 3")
    assert split_command("  ") == ("help", "")
    assert split_command("/why 12") == ("why", "12")
    assert split_command("/threatwatch latest 2") == ("latest", "2")
    assert split_command("feed_add <https://x.example/a?b=1&amp;c=2|x.example>") == (
        "feed_add",
        "https://x.example/a?b=1&c=2",
    )
    assert split_command("search rockets &amp; drones &lt;Iraq&gt;") == (
        "search",
        "rockets & drones <Iraq>",
    )
    assert split_command("¿qué?") == ("¿qué?", "")  # the dispatcher answers "unknown command"
    assert plain_text("<mailto:a@b.example|a@b>") == "mailto:a@b.example"


def test_a_mention_loses_only_the_bots_own_name() -> None:
    assert without_mention("<@UBOT> why 3", "UBOT").strip() == "why 3"
    assert without_mention("<@UBOT|tw> similar <@U2>", "UBOT").strip() == "similar <@U2>"
    assert without_mention("<@UBOT> help", None).strip() == "help"


def api_error(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.test/api/chat.postMessage",
        req_args={},
        data=body,
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError("failed", response)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (api_error(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"}), RateLimited),
        (api_error(200, {"ok": False, "error": "channel_not_found"}), ChatGone),
        (api_error(200, {"ok": False, "error": "not_in_channel"}), ChatGone),
        (api_error(200, {"ok": False, "error": "is_archived"}), ChatGone),
        (api_error(200, {"ok": False, "error": "invalid_blocks"}), TransientDeliveryError),
        (api_error(503, "Service Unavailable"), TransientDeliveryError),  # type: ignore[arg-type]
        (TimeoutError(), TransientDeliveryError),
    ],
)
async def test_slack_errors_map_onto_the_delivery_tree(error: Exception, expected: type) -> None:
    with pytest.raises(expected) as caught:
        async with translated_errors():
            raise error
    if expected is RateLimited:
        assert caught.value.retry_after == 7.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"slack_app_token": "xapp-1"}, "socket"),
        ({"slack_signing_secret": "s"}, "http"),
        ({"slack_app_token": "xapp-1", "slack_signing_secret": "s", "slack_mode": "http"}, "http"),
        ({}, "THREATWATCH_SLACK_SIGNING_SECRET"),
        (
            {"slack_mode": "socket", "slack_signing_secret": "s"},
            "needs THREATWATCH_SLACK_APP_TOKEN",
        ),
        ({"slack_app_token": "xoxb-wrong"}, "must be an app-level token"),
    ],
)
def test_each_transport_names_what_it_is_missing(values: dict[str, str], expected: str) -> None:
    config = Settings(slack_bot_token="xoxb-1", **values)  # type: ignore[arg-type]
    if expected in ("socket", "http"):
        assert mode_of(config) == expected
    else:
        with pytest.raises(ConfigError, match=expected):
            mode_of(config)


def test_the_manifest_asks_for_what_the_app_handles() -> None:
    import yaml

    from bot.adapters.slack.render import PREFIX
    from bot.adapters.slack.transport import EVENTS_PATH
    from bot.core.settings import REPO_ROOT

    manifest = yaml.safe_load((REPO_ROOT / "config" / "slack-manifest.yml").read_text())
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == PREFIX.strip() and command["should_escape"] is False
    settings_ = manifest["settings"]
    assert set(settings_["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert settings_["interactivity"]["is_enabled"] is True
    urls = {
        command["url"],
        settings_["event_subscriptions"]["request_url"],
        settings_["interactivity"]["request_url"],
    }
    assert all(url.endswith(EVENTS_PATH) for url in urls)
    # one scope per Web API method the app calls
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= {
        "commands",
        "chat:write",
        "app_mentions:read",
        "im:history",
        "im:write",
        "files:write",
        "channels:read",
        "groups:read",
        "channels:join",
        "files:read",
        "channels:history",  # conversations.history: an alert's message found after a crash
        "groups:history",
    }
