"""The spike alert as a neutral reply: the trend chart as a photo, with what the spike is and the
stories behind it as its caption. Rendered from the stored alert each time it is sent, so a
retry says exactly what the first attempt said."""

from __future__ import annotations

from bot.core.records import SpikeAlert
from bot.messages.alerts import when
from bot.messages.replies import Document, Reply, ReplyBuilder, bold, clip, italic, link

STORIES_SHOWN = 5


def spike_reply(alert: SpikeAlert) -> Reply:
    b = ReplyBuilder().line(bold(f"📈 Activity spike · {alert.topic}"))
    b.line(
        f"{alert.count} {alert.measure} in the last 24 hours; usually {alert.median:g} a day "
        f"(robust z {alert.z:.1f})"
    )
    for r in alert.reports[:STORIES_SHOWN]:
        b.line("• ", link(clip(r.title, 150), r.url), italic(f" · {r.source or '?'}"))
        b.line(italic(f"  {when(r.published)}"))
    return b.build(photo=Document(alert.chart_filename, alert.chart))
