"""A scaled-down load run of the real bot process (testkit/load.py; bench/load.py runs it
at full size): every alert reaches every subscribed chat exactly once, and the fake Telegram
and Slack servers, which enforce the platforms' rate limits, never had to refuse a send."""

from __future__ import annotations

from pathlib import Path

from testkit.load import LoadSpec, run_load

SPEC = LoadSpec(
    feeds=60, items=600, relevant=5, telegram_private=8, telegram_groups=2, slack_channels=10
)


def test_load_every_alert_once_within_platform_limits(tmp_path: Path) -> None:
    result = run_load(tmp_path, SPEC, timeout=50)
    assert result.new == SPEC.items, result.output[-3000:]
    assert result.matched == SPEC.relevant and len(result.match_ids) == SPEC.relevant
    assert result.queued == SPEC.relevant * SPEC.chats
    assert len(result.received) == SPEC.chats
    for chat, counts in result.received.items():
        assert set(counts) == result.match_ids, chat  # none lost, none invented
        assert max(counts.values()) == 1, (chat, counts)  # none twice
    assert result.refused_by_limits == 0  # no platform limit was exceeded
    assert 0 < result.peak_rss_mb < 1024
    print(
        f"load: cycle {result.cycle_seconds:.1f}s, peak RSS {result.peak_rss_mb:.0f} MB, "
        f"lag p50 {result.lag(0.5):.1f}s max {result.lag(1.0):.1f}s"
    )
