"""`threatwatch run` as a real process on a PostgreSQL database (THREATWATCH_DATABASE_URL): it
serves commands and delivers alerts exactly as on SQLite, creates no SQLite file although
THREATWATCH_DB is set too, a kill -9 in the middle of delivery loses nothing, and a chat that
removed the bot is paused."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from telegram_support import (
    ADMIN,
    GROUP,
    ITEMS,
    TOKEN,
    USER,
    bot_env,
    many_items,
    write_watch_config,
)
from test_telegram_run import alert_ids, alerts_to, bot_process, command, wait_alerts

from bot.core.channels import ChannelKey, SubscriptionStatus
from bot.store.postgres import PostgresStore
from testkit.feedserver import FeedServer
from testkit.telegram_api import FakeBotAPI


def test_run_on_postgres_serves_commands_and_delivers_alerts(
    tmp_path: Path, postgres_url: str
) -> None:
    _, _, www = write_watch_config(tmp_path)
    with FakeBotAPI(TOKEN) as api, FeedServer(www) as feeds:
        env = bot_env(tmp_path, api.api_url, THREATWATCH_DATABASE_URL=postgres_url)
        assert env["THREATWATCH_DB"]  # set as well: the URL wins
        with bot_process(env) as bot:
            assert "Subscribed" in command(api, GROUP, "/subscribe", ADMIN).text
            assert (
                "Feed 1 added"
                in command(api, GROUP, f"/feed_add {feeds.url('wire.xml')}", ADMIN).text
            )
            alerts = wait_alerts(api, GROUP, 3, 60)
            alert_id = alerts[0].buttons[0][1].split(":")[1]
            assert (
                f"Why alert #{alert_id} matched"
                in command(api, USER, f"/why {alert_id}", USER).text
            )
            search = command(api, USER, "/search drone attack Syria", USER)
            assert "Drone strikes US forces in Syria" in search.text
        assert bot.proc.returncode == 0, bot.output
    assert not Path(env["THREATWATCH_DB"]).exists()
    store = PostgresStore(postgres_url)
    try:
        # every item of the feed stored once; the three that matched sent once each
        assert store.count_articles() == len(ITEMS) and store.outbox_counts() == {"sent": 3}
    finally:
        store.close()


def test_kill_9_mid_delivery_on_postgres_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, postgres_url: str
) -> None:
    _, _, www = write_watch_config(tmp_path, many_items(8))
    with FakeBotAPI(TOKEN) as api, FeedServer(www) as feeds:
        env = bot_env(tmp_path, api.api_url, THREATWATCH_DATABASE_URL=postgres_url)
        with bot_process(env) as bot:
            command(api, USER, "/subscribe", USER)  # a private chat: one alert a second
            command(api, USER, f"/feed_add {feeds.url('wire.xml')}", ADMIN)
            wait_alerts(api, USER, 3, 60)
            time.sleep(0.5)  # between two sends
            bot.kill9()
        assert len(alerts_to(api, USER)) < 8, "the crash came too late to test anything"
        with bot_process(env) as bot:
            alerts = wait_alerts(api, USER, 8, 60)
            time.sleep(2)
            assert len(alerts_to(api, USER)) == 8, bot.output
            assert len(set(alert_ids(alerts))) == 8


def test_a_kicked_bot_pauses_the_subscription_on_postgres(
    tmp_path: Path, postgres_url: str
) -> None:
    _, _, www = write_watch_config(tmp_path)
    with FakeBotAPI(TOKEN) as api, FeedServer(www) as feeds:
        env = bot_env(tmp_path, api.api_url, THREATWATCH_DATABASE_URL=postgres_url)
        with bot_process(env) as bot:
            command(api, GROUP, "/subscribe", ADMIN)
            api.block_chat(GROUP)
            command(api, ADMIN, f"/feed_add {feeds.url('wire.xml')}", ADMIN)
            bot.wait_for_output("is gone", timeout=60)
    store = PostgresStore(postgres_url)
    try:
        channel = store.channel_for(ChannelKey("telegram", str(GROUP)), datetime.now(UTC))
        [subscription] = store.subscriptions(channel.id)
        assert subscription.status is SubscriptionStatus.PAUSED
        assert store.outbox_counts() == {"undeliverable": 3}
    finally:
        store.close()
