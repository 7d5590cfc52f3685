"""Shared set-up for the Slack tests: the real bot (`threatwatch run`) as a process in HTTP or
Socket Mode, pointed at a FakeSlackAPI and a local feed server, and a client that sends it
signed slash commands, mentions and button presses the way Slack does."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from process_support import BotProcess
from telegram_support import write_watch_config

from testkit.env import local_env
from testkit.feedserver import FeedServer
from testkit.slack_api import APP_TOKEN, BOT_TOKEN, FakeSlackAPI
from testkit.slack_objects import Posted
from testkit.slack_requests import (
    Answer,
    SignedSender,
    button_press,
    mention_event,
    slash_command,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ADMIN = "UADMIN01"
USER = "UUSER001"
OUTSIDER = "UOUTSIDE"  # in the workspace, not in CHANNEL
CHANNEL = "C0ALERTS1"
WORKING = "Working on it"
LISTENING = re.compile(r"http mode on http://[\d.]+:(\d+)/slack/events")


def slack_env(root: Path, api_url: str, *, socket: bool = False, **extra: str) -> dict[str, str]:
    env = local_env(
        root,
        THREATWATCH_SLACK_BOT_TOKEN=BOT_TOKEN,
        THREATWATCH_SLACK_API_URL=api_url,
        THREATWATCH_SLACK_ADMINS=ADMIN,
        THREATWATCH_SLACK_REQUEST_TIMEOUT="5",
    )
    if socket:
        env["THREATWATCH_SLACK_APP_TOKEN"] = APP_TOKEN
    else:
        env |= {
            "THREATWATCH_SLACK_SIGNING_SECRET": SECRET,
            "THREATWATCH_SLACK_LISTEN": "127.0.0.1",
            "THREATWATCH_SLACK_PORT": "0",
        }
    return env | extra


@dataclass
class SlackBot:
    """A running bot process and the fake Slack around it."""

    api: FakeSlackAPI
    process: BotProcess
    feeds: FeedServer
    root: Path
    sender: SignedSender | None = None  # HTTP mode

    def command(self, text: str, user: str, channel: str = CHANNEL, timeout: float = 60) -> Posted:
        """A slash command; returns the answer, whether it came in the ack or later through
        the response_url."""
        response_url = self.api.response_url()
        payload = slash_command(text, user=user, channel=channel, response_url=response_url)
        ack = self.send("slash_commands", payload)
        body = ack.json() if isinstance(ack, Answer) else ack
        if body and WORKING not in body.get("text", ""):
            return Posted(
                "ack",
                channel,
                "",
                body.get("text", ""),
                body.get("blocks") or [],
                response_type=body.get("response_type"),
            )
        target = response_url.rsplit("/", 1)[1]
        self.api.wait_for(lambda ps: any(p.channel == f"respond:{target}" for p in ps), timeout)
        return self.api.posted_to(f"respond:{target}")[-1]

    def send(self, kind: str, payload: dict) -> Answer | dict | None:  # type: ignore[type-arg]
        if self.sender is None:  # Socket Mode
            return self.api.socket_mode.send(kind, payload)  # type: ignore[no-any-return]
        send = {
            "slash_commands": self.sender.command,
            "events_api": self.sender.event,
            "interactive": self.sender.interaction,
        }[kind]
        answer = send(payload)
        assert answer.status == 200, (answer.status, answer.body, self.process.output[-3000:])
        return answer

    def mention(self, text: str, user: str, channel: str = CHANNEL) -> None:
        self.send("events_api", mention_event(text, user=user, channel=channel))

    def press(self, alert: Posted, action: str, user: str, timeout: float = 30) -> Posted:
        """Press one of an alert's buttons; returns the first answer to the presser."""
        action_id, value = next(b for b in alert.buttons if b[0] == f"threatwatch:{action}")
        response_url = self.api.response_url()
        self.send(
            "interactive",
            button_press(
                action_id,
                value,
                user=user,
                channel=alert.channel,
                message_ts=alert.ts,
                response_url=response_url,
            ),
        )
        target = f"respond:{response_url.rsplit('/', 1)[1]}"
        self.api.wait_for(lambda ps: any(p.channel == target for p in ps), timeout)
        return self.api.posted_to(target)[0]

    def wait_alerts(self, n: int, channel: str = CHANNEL, timeout: float = 60) -> list[Posted]:
        self.api.wait_for(
            lambda ps: (
                len(
                    [
                        p
                        for p in ps
                        if p.channel == channel and p.buttons and p.method == "chat.postMessage"
                    ]
                )
                >= n
            ),
            timeout,
        )
        return self.api.alerts(channel)


@contextmanager
def slack_bot(
    root: Path,
    items: list[tuple[str, str, str]] | None = None,
    *,
    socket: bool = False,
    extra_env: dict[str, str] | None = None,
    api: FakeSlackAPI | None = None,
) -> Iterator[SlackBot]:
    """Start the fake Slack API, the feed server and `threatwatch run`; stop them after."""
    _, _, www = write_watch_config(root, *(() if items is None else (items,)))
    with api or FakeSlackAPI() as slack, FeedServer(www) as feeds:
        slack.add_channel(CHANNEL, [ADMIN, USER, "UOTHER01", "UOTHER02"])
        env = slack_env(root, slack.api_url, socket=socket, **(extra_env or {}))
        process = BotProcess(env)
        try:
            bot = SlackBot(slack, process, feeds, root)
            if socket:
                deadline = time.monotonic() + 60
                while not slack.socket_mode.connected() and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert slack.socket_mode.connected(), process.output
            else:
                port = process.wait_for_output(LISTENING).group(1)
                bot.sender = SignedSender(f"http://127.0.0.1:{port}/slack/events", SECRET)
            yield bot
        finally:
            code = process.stop()
            assert code == 0, process.output[-3000:]
