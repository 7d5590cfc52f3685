"""The trend chart as a PNG, sized and lettered for a phone screen: matches per day (bars),
distinct stories per day (narrower bars in front), the 7-day average (a line) and the top
sources (horizontal bars). matplotlib's object API on the Agg canvas: no pyplot, no global
figure state, safe to call from a worker thread; the output is byte-for-byte repeatable for
the same data and matplotlib version."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.trends.series import Trend

WIDTH_IN, HEIGHT_IN, DPI = 9.0, 12.0, 120  # 1080 x 1440 pixels, portrait like a phone
TITLE_PT, TEXT_PT, TICK_PT = 30, 22, 19
MATCH_COLOUR, STORY_COLOUR, AVERAGE_COLOUR, SOURCE_COLOUR = (
    "#9ecae1",
    "#3182bd",
    "#d95f0e",
    "#756bb1",
)
MAX_SOURCE_CHARS = 44


def render_trend(trend: Trend) -> bytes:
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(_short(trend.topic, 40), fontsize=TITLE_PT, fontweight="bold")
    top, bottom = figure.subplots(2, 1, height_ratios=[3, 2])
    _daily(top, trend)
    _sources(bottom, trend)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _daily(axes, trend: Trend) -> None:  # type: ignore[no-untyped-def]
    x = list(range(len(trend.days)))
    axes.bar(x, trend.matches, width=0.9, color=MATCH_COLOUR, label="matches")
    axes.bar(x, trend.stories, width=0.45, color=STORY_COLOUR, label="stories")
    axes.plot(x, trend.average, color=AVERAGE_COLOUR, linewidth=4, label="7-day average")
    axes.set_title(
        f"last {len(x)} days: {trend.total_matches} matches, {trend.total_stories} stories",
        fontsize=TEXT_PT,
        loc="left",
        pad=52,
    )
    axes.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    ticks = _date_ticks(len(x))
    axes.set_xticks(ticks, [trend.days[i].strftime("%d %b") for i in ticks])
    axes.tick_params(labelsize=TICK_PT)
    axes.set_xlim(-0.6, len(x) - 0.4)
    axes.set_ylim(bottom=0, top=max([1, *trend.matches]) * 1.15)
    axes.legend(
        fontsize=TICK_PT,
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncols=3,
        frameon=False,
        borderaxespad=0.2,
        handlelength=1.2,
        columnspacing=1.0,
    )
    axes.spines[["top", "right"]].set_visible(False)


def _date_ticks(n: int, labels: int = 4) -> list[int]:
    if n <= labels:
        return list(range(n))
    step = (n - 1) / (labels - 1)
    return sorted({round(i * step) for i in range(labels)})


def _sources(axes, trend: Trend) -> None:  # type: ignore[no-untyped-def]
    axes.set_title("top sources", fontsize=TEXT_PT, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    if not trend.sources:
        axes.text(0.5, 0.5, "no matches yet", ha="center", va="center", fontsize=TEXT_PT)
        axes.set_axis_off()
        return
    # each name above its bar, not as a tick label: long names must not squeeze the day chart
    names = [_short(name, MAX_SOURCE_CHARS) for name, _ in reversed(trend.sources)]
    counts = [count for _, count in reversed(trend.sources)]
    bars = axes.barh(range(len(names)), counts, color=SOURCE_COLOUR, height=0.42)
    for row, name in enumerate(names):
        axes.text(0, row + 0.26, name, fontsize=TICK_PT, va="bottom", ha="left")
    axes.bar_label(bars, padding=6, fontsize=TICK_PT)
    axes.set_yticks([])
    axes.xaxis.set_visible(False)
    axes.spines[["left", "bottom"]].set_visible(False)
    axes.set_xlim(0, max(counts) * 1.2)
    axes.set_ylim(-0.5, len(names) - 0.1)


def _short(name: str, limit: int) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
