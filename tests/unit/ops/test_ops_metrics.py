"""Metrics, readiness and the ops server in-process: names by Prometheus conventions (API errors
by method and code: tests/unit/ops/test_api_errors.py), who may scrape, what readiness reports
and why."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from store_support import new_article

from bot.cli.main import cli
from bot.core.errors import RateLimited
from bot.core.models import CycleReport, Topic
from bot.core.records import NewMatch
from bot.core.settings import parse_networks
from bot.ops.health import Readiness
from bot.ops.metrics import Metrics
from bot.ops.server import OpsServer, allowed
from bot.store import SqliteStore

REPO = Path(__file__).resolve().parents[3]


def test_cycle_and_send_counters_follow_prometheus_names(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "m.db").close()
    metrics = Metrics(tmp_path / "m.db")
    report = CycleReport(feeds_due=3, fetched=1, not_modified=1, failed=1, new=4, seconds=0.7)
    report.failed_by["feed_unavailable"] = 1
    report.matched_by_topic["t"] = 2
    report.queued_by_platform.update({"telegram": 2, "slack": 1})
    metrics.observe_cycle(report)
    metrics.observe_send("telegram", None)
    metrics.observe_send(
        "telegram",
        RateLimited("slow", retry_after=3),
    )
    pushed = CycleReport(fetched=2, new=3)
    pushed.matched_by_topic["t"] = 1
    pushed.queued_by_platform["telegram"] = 1
    metrics.observe_push(pushed)
    text = metrics.render().decode()
    for line in (
        'threatwatch_fetches_total{outcome="ok"} 1.0',
        'threatwatch_fetches_total{outcome="failed_feed_unavailable"} 1.0',
        "threatwatch_articles_ingested_total 7.0",
        'threatwatch_matches_total{topic="t"} 3.0',
        "threatwatch_websub_pushes_total 2.0",
        "threatwatch_poll_cycles_total 1.0",
        'threatwatch_alerts_total{platform="telegram",status="queued"} 3.0',
        'threatwatch_alerts_total{platform="slack",status="queued"} 1.0',
        'threatwatch_alerts_total{platform="telegram",status="sent"} 1.0',
        'threatwatch_alerts_total{platform="telegram",status="failed"} 1.0',
        'threatwatch_rate_limit_waits_total{platform="telegram"} 1.0',
        'threatwatch_rate_limit_wait_seconds_total{platform="telegram"} 3.0',
        "threatwatch_poll_cycle_duration_seconds_count 1.0",
        "threatwatch_database_up 1.0",
        "threatwatch_outbox_depth 0.0",
    ):
        assert line in text, line


def test_allowed_networks() -> None:
    nets = parse_networks(["10.0.0.0/8", "::1/128"])
    assert allowed("10.1.2.3", nets) and allowed("::1", nets)
    assert not allowed("192.168.1.1", nets) and not allowed(None, nets)
    assert allowed("::ffff:10.0.0.1", nets)  # an IPv4 client on a dual-stack socket
    assert allowed("203.0.113.9", [])  # no list: anyone
    with pytest.raises(ValueError, match="not a network"):
        parse_networks(["10.0.0.0/33"])


async def test_scrapers_outside_the_allowed_networks_get_403(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "s.db").close()
    readiness = Readiness(tmp_path / "s.db", poll_interval=60)
    for networks, status in ((["10.0.0.0/8"], 403), (["127.0.0.0/8"], 200)):
        server = OpsServer(
            Metrics(tmp_path / "s.db"),
            readiness,
            listen="127.0.0.1",
            port=0,
            networks=parse_networks(networks),
        )
        port = await server.start()
        try:
            async with httpx.AsyncClient(trust_env=False) as client:
                answer = await client.get(f"http://127.0.0.1:{port}/metrics")
            assert answer.status_code == status
            if status == 200:
                assert "threatwatch_database_up 1.0" in answer.text
        finally:
            await server.stop()
        await asyncio.sleep(0)


def test_readiness_names_each_failed_check(tmp_path: Path) -> None:
    now = [1_000_000.0]
    readiness = Readiness(tmp_path / "missing.db", poll_interval=10, clock=lambda: now[0])
    failed = readiness.check()
    assert set(failed) == {"database", "model"}
    assert "does not exist" in failed["database"]
    assert not (tmp_path / "missing.db").exists()  # a check never creates the database
    SqliteStore(tmp_path / "missing.db").close()
    readiness.model_loaded()
    assert readiness.check() == {}
    now[0] += 31  # three poll intervals and a bit without a cycle
    assert set(readiness.check()) == {"poll"}
    readiness.cycle_ended(CycleReport())
    assert readiness.check() == {}


def test_stuck_outbox_makes_the_bot_unready(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    when = datetime(2026, 1, 1, tzinfo=UTC)  # queued long ago and never sent
    store = SqliteStore(db)
    store.upsert_topic_default(Topic("t", "d", 0.5), when)
    store.subscribe(store.ensure_channel("console", "a", now=when), ["t"], when)
    match = NewMatch(0, "t", 0.9, 0.5, None, "seed", "passage")
    store.save_articles([new_article(1, when)], [match], model="m", now=when)
    store.close()
    readiness = Readiness(db, poll_interval=10, stuck_after=600)
    readiness.model_loaded()
    failed = readiness.check()
    assert set(failed) == {"outbox"} and "1 alerts pending" in failed["outbox"]


def test_health_command_without_a_metrics_port_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THREATWATCH_METRICS_PORT", raising=False)
    from bot.cli.main import main

    monkeypatch.setattr("sys.argv", ["threatwatch", "health"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 1


def test_a_bad_allowed_network_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREATWATCH_METRICS_PORT", "9400")
    monkeypatch.setenv("THREATWATCH_METRICS_ALLOWED_NETWORKS", "10.0.0.0/8,not-a-net")
    result = CliRunner().invoke(cli, ["health"])
    assert result.exit_code != 0
    assert "METRICS_ALLOWED_NETWORKS" in str(result.exception)
    assert "not-a-net" in str(result.exception)


def test_every_metric_the_sample_dashboard_uses_exists(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "d.db").close()
    metrics = Metrics(tmp_path / "d.db")
    metrics.observe_cycle(CycleReport(fetched=1))
    metrics.observe_send("slack", None)
    metrics.observe_embedding(2, 0.1)
    metrics.observe_model_load(1.5)
    text = metrics.render().decode()
    # samples, and the families declared with no sample yet (a labelled counter before its
    # first event, feeds by status in an empty database)
    exposed = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}
    exposed |= set(re.findall(r"^# HELP (\S+)", text, re.M))
    dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"threatwatch_[a-z_]+", target["expr"])
    }
    assert used and used - exposed == set()
