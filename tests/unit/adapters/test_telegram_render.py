"""Rendering neutral replies to Telegram HTML (pure): escaping, links, the 4096 limit, buttons;
and the chat settings logic behind quiet hours and digests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.adapters.telegram.render import (
    MAX_MESSAGE,
    callback_data,
    parse_callback,
    render,
    render_html,
    utf16_len,
)
from bot.core.channels import ChatSettings, DeliveryMode, apply_setting
from bot.core.errors import BadArgument
from bot.core.models import Article, Match
from bot.messages.alerts import alert_reply
from bot.messages.replies import Action, Button, Reply, ReplyBuilder, Span, Style, bold, link

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def match(
    title: str,
    *,
    text: str = "Body text.",
    source: str | None = "A & B <News>",
    url: str | None = "https://x.example/a?b=1&c=2",
) -> Match:
    article = Article(1, None, "g", url, title, text, NOW, NOW, None, source, "h")
    return Match(7, article, "topic-a", 0.71234, 0.58, 'Seed "<title>"', text, NOW)


def test_every_external_string_is_escaped() -> None:
    html = render_html(alert_reply(match("<script>alert(1)</script> & co")))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "<script>" not in html
    assert '<a href="https://x.example/a?b=1&amp;c=2">' in html
    assert "A &amp; B &lt;News&gt;" in html and 'Seed "&lt;title&gt;"' in html


def test_only_web_links_become_links() -> None:
    html = render_html(
        Reply(
            (
                (link("click", "javascript:alert(1)"),),
                (link("x", 'https://a.example/"onmouseover="'),),
            )
        )
    )
    assert "javascript" not in html and html.startswith("click\n")
    assert 'href="https://a.example/&quot;onmouseover=&quot;"' in html


def test_styles_map_to_telegram_tags() -> None:
    line = (bold("b"), Span("i", Style.ITALIC), Span("c<", Style.CODE), Span("p"))
    assert render_html(Reply((line,))) == "<b>b</b><i>i</i><code>c&lt;</code>p"


def test_messages_never_exceed_4096_utf16_units() -> None:
    builder = ReplyBuilder()
    for i in range(400):
        builder.line(bold(f"line {i} 🚨"), " <&> " * 5)
    html = render_html(builder.build())
    assert utf16_len(html) <= MAX_MESSAGE and html.endswith("… (truncated)")
    assert html.count("<b>") == html.count("</b>")  # whole lines only: tags stay balanced
    giant = render_html(Reply(((bold("🚨" * 5000),),)))
    assert utf16_len(giant) <= MAX_MESSAGE and giant.startswith("<b>") and "</b>" in giant


def test_long_alert_fields_are_clipped_and_fit() -> None:
    html = render_html(alert_reply(match("T" * 2000, text="word " * 3000)))
    assert utf16_len(html) <= MAX_MESSAGE and "…" in html


def test_alert_buttons_and_callback_data_round_trip() -> None:
    message = render(alert_reply(match("Title")))
    assert message.keyboard == ((("👍", "up:7"), ("👎", "down:7"), ("Why?", "why:7")),)
    assert parse_callback(callback_data(Button("x", Action.WHY, "123"))) == ("why", "123")


def test_alert_without_url_or_source_still_renders() -> None:
    html = render_html(alert_reply(match("Plain", url=None, source=None)))
    assert "🚨 Plain" in html and "unknown source" in html


def test_quiet_hours_span_midnight() -> None:
    quiet = apply_setting(ChatSettings(), "quiet", ["22:00-07:00"])
    assert quiet.in_quiet_hours(datetime(2026, 1, 1, 23, 30, tzinfo=UTC))
    assert quiet.in_quiet_hours(datetime(2026, 1, 1, 6, 59, tzinfo=UTC))
    assert not quiet.in_quiet_hours(datetime(2026, 1, 1, 7, 0, tzinfo=UTC))
    berlin = apply_setting(quiet, "timezone", ["Europe/Berlin"])
    assert berlin.in_quiet_hours(datetime(2026, 1, 1, 21, 30, tzinfo=UTC))  # 22:30 in Berlin


def test_digest_is_due_once_per_day_after_its_hour() -> None:
    settings = apply_setting(ChatSettings(), "mode", ["digest", "08:00"])
    assert settings.mode is DeliveryMode.DIGEST and settings.digest_at == "08:00"
    sent_yesterday = ChatSettings(
        mode=DeliveryMode.DIGEST, digest_at="08:00", last_digest_at="2026-11-20T08:00:05+00:00"
    )
    assert not sent_yesterday.digest_due(datetime(2026, 11, 21, 7, 59, tzinfo=UTC))
    assert sent_yesterday.digest_due(datetime(2026, 11, 21, 8, 0, tzinfo=UTC))
    sent_today = ChatSettings(
        mode=DeliveryMode.DIGEST, digest_at="08:00", last_digest_at="2026-11-21T08:00:05+00:00"
    )
    assert not sent_today.digest_due(datetime(2026, 11, 21, 23, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("key", "values", "error"),
    [
        ("mode", ["digest", "8am"], "bad time"),
        ("threading", ["thread"], "reply' or 'fold"),
        ("min_score", ["-1"], "out of range"),
    ],
)
def test_bad_settings_are_refused(key: str, values: list[str], error: str) -> None:
    with pytest.raises(BadArgument, match=error):
        apply_setting(ChatSettings(), key, values)


def test_settings_survive_json_round_trip() -> None:
    settings = apply_setting(
        apply_setting(ChatSettings(), "mode", ["digest", "06:30"]), "threading", ["fold"]
    )
    assert ChatSettings.from_json(settings.to_json()) == settings
