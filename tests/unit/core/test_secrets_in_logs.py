"""Tokens and secrets never reach the logs, /status or error output: `threatwatch -v run` (debug
logging, so httpx logs every request URL, and a Telegram URL carries the bot token) with
Telegram and Slack configured, through a failing send, a Bot API outage and a Slack token the
Slack API refuses."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import pytest
from process_support import BotProcess
from slack_support import SECRET, slack_env
from telegram_support import ADMIN, USER, bot_env, write_watch_config

from bot.cli.main import cli
from bot.cli.main import main as cli_main
from testkit.feedserver import FeedServer
from testkit.slack_api import FakeSlackAPI
from testkit.telegram_api import FakeBotAPI

TG_TOKEN = "987654:SECRETtgTokenAbCdEf0123456789"
SLACK_TOKEN = "xoxb-SECRET-slack-bot-token-5678"
WEBHOOK_SECRET = "SECRET_webhook_never_logged_42"


def test_no_token_or_secret_in_debug_logs_errors_or_status(tmp_path: Path) -> None:
    _, _, www = write_watch_config(tmp_path)
    with (
        FakeBotAPI(TG_TOKEN) as api,
        FakeSlackAPI(bot_token=SLACK_TOKEN) as slack,
        FeedServer(www) as feeds,
    ):
        slack.fail("auth.test", "invalid_auth", times=100)  # the Slack token is refused
        env = slack_env(tmp_path, slack.api_url) | bot_env(tmp_path, api.api_url)
        env |= {
            "THREATWATCH_TELEGRAM_TOKEN": TG_TOKEN,
            "THREATWATCH_SLACK_BOT_TOKEN": SLACK_TOKEN,
            # unused in polling mode, and still a secret
            "THREATWATCH_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
        bot = BotProcess(env, args=("-v", "run"))
        try:
            api.send_command(USER, "/subscribe", user_id=USER)
            assert "Subscribed" in api.wait_for_reply(USER, 0, 60).text
            api.fail("sendMessage", 500, times=2)  # the first alert's sends fail
            api.fail("getUpdates", 502, times=2)  # and the Bot API is down for a moment
            api.send_command(ADMIN, f"/feed_add {feeds.url('wire.xml')}", user_id=ADMIN)
            api.wait_for(
                lambda sent: len([s for s in sent if s.chat_id == USER and s.buttons]) >= 3, 60
            )
            before = len(api.sent_to(USER))
            api.send_command(USER, "/status", user_id=USER)
            status = api.wait_for_reply(USER, before, 30).text
            time.sleep(1)
        finally:
            assert bot.stop() == 0, bot.output[-3000:]
    output = bot.output
    # the errors happened and were logged, with the URLs that carry the token
    assert "deferred" in output and "Internal Server Error" in output, output[-3000:]
    assert "invalid_auth" in output, output[-3000:]
    assert f"{api.base_url}/bot[redacted]/sendMessage" in output, output[-3000:]
    assert "Feeds: 1 healthy" in status
    for secret in (TG_TOKEN, TG_TOKEN.split(":")[1], SLACK_TOKEN, SECRET, WEBHOOK_SECRET):
        assert secret not in output, secret
        assert secret not in status, secret


def test_cli_error_lines_never_show_a_token_or_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each command's error quotes what it was given, and here that is a secret: a feed
    # reference, a seed file's path, an option value (click's usage error).
    for name, value in {
        "THREATWATCH_DB": str(tmp_path / "tw.db"),
        "THREATWATCH_EMBEDDER": "hashing",
        "THREATWATCH_LOAD_DEFAULT_FEEDS": "false",
        "THREATWATCH_TELEGRAM_TOKEN": TG_TOKEN,
        "THREATWATCH_SLACK_BOT_TOKEN": SLACK_TOKEN,
        "THREATWATCH_SLACK_SIGNING_SECRET": SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    secret_half = TG_TOKEN.split(":")[1]
    cases = [
        (("feeds", "remove", SLACK_TOKEN), 1, "error: no feed '[redacted]'"),
        (("seeds", "add", "any", f"/nowhere/{SECRET}.txt"), 1, "/nowhere/[redacted].txt"),
        (("latest", "--limit", secret_half), 2, "'--limit': '[redacted]'"),
    ]
    for args, code, shown in cases:
        monkeypatch.setattr(sys, "argv", ["threatwatch", *args])
        with pytest.raises(SystemExit) as exit_:
            cli_main()
        out, err = capsys.readouterr()
        assert exit_.value.code == code, (args, err)
        assert shown in err, (args, err)
        for secret in (TG_TOKEN, secret_half, SLACK_TOKEN, SECRET):
            assert secret not in out + err, (args, secret)
    assert len(err.strip().splitlines()) > 1  # usage and error, both redacted


def test_an_unexpected_traceback_is_redacted_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A bug anywhere ends the command with its traceback: the secret it quotes is hidden.
    monkeypatch.setenv("THREATWATCH_DB", str(tmp_path / "tw.db"))
    monkeypatch.setenv("THREATWATCH_SLACK_SIGNING_SECRET", SECRET)

    def fail() -> None:
        raise RuntimeError(f"request signed with {SECRET} failed")

    cli.add_command(click.Command("fail-for-test", callback=fail))
    try:
        monkeypatch.setattr(sys, "argv", ["threatwatch", "fail-for-test"])
        with pytest.raises(SystemExit) as exit_:
            cli_main()
    finally:
        cli.commands.pop("fail-for-test")
    _, err = capsys.readouterr()
    assert exit_.value.code == 1
    assert "Traceback" in err and "RuntimeError: request signed with [redacted] failed" in err
    assert SECRET not in err
