"""Right-to-left text in left-to-right alert lines: isolated (FSI…PDI), stray bidi controls
from feeds removed, left-to-right text untouched; and rendered through both platforms."""

from __future__ import annotations

from bot.adapters.slack.render import render as render_slack
from bot.adapters.telegram.render import render_html
from bot.messages.bidi import FSI, PDI, has_rtl, isolate
from bot.messages.replies import ReplyBuilder, link

TITLE = 'قصف قاعدة عين الأسد: 3 صواريخ <عاجل> & "تفاصيل"'


def test_rtl_text_is_isolated_and_ltr_text_untouched() -> None:
    assert isolate(TITLE) == f"{FSI}{TITLE}{PDI}"
    assert isolate("Rockets hit Ain al-Asad") == "Rockets hit Ain al-Asad"
    assert has_rtl("حمله پهپادی") and not has_rtl("plain English 123")


def test_stray_bidi_controls_from_a_feed_are_removed() -> None:
    # an unbalanced right-to-left override would reverse everything after it in the message
    hostile = "عاجل\u202e moc.elpmaxe \u2066"
    assert isolate(hostile) == f"{FSI}عاجل moc.elpmaxe {PDI}"
    assert isolate("safe\u202etext") == "safetext"


def test_isolated_title_survives_telegram_html_escaping() -> None:
    reply = (
        ReplyBuilder().line("🚨 ", link(isolate(TITLE), "https://news.example/a?x=1&y=2")).build()
    )
    html = render_html(reply)
    assert f"{FSI}قصف قاعدة عين الأسد: 3 صواريخ &lt;عاجل&gt; &amp; " in html
    assert html.count(FSI) == 1 and html.index(PDI) < html.index("</a>")
    assert "<عاجل>" not in html and 'href="https://news.example/a?x=1&amp;y=2"' in html


def test_isolated_title_survives_slack_escaping() -> None:
    reply = ReplyBuilder().line("🚨 ", link(isolate(TITLE), "https://news.example/a")).build()
    blocks = render_slack(reply).blocks
    text = " ".join(str(b.get("text", {}).get("text", "")) for b in blocks)
    assert f"{FSI}قصف قاعدة عين الأسد: 3 صواريخ &lt;عاجل&gt; &amp;" in text
    assert text.count(FSI) == text.count(PDI) == 1
    assert "<https://news.example/a|" in text  # the link stays a Slack link around the isolate
