"""What Slack sends an app, built for tests: slash-command, event and interaction payloads, and
signed HTTP requests to the app's /slack/events endpoint (signature from slack-sdk's
SignatureVerifier, exactly as Slack computes it)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from slack_sdk.signature import SignatureVerifier

from testkit.slack_api import TEAM


def slash_command(text: str, *, user: str, channel: str, response_url: str) -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "team_domain": "test",
        "channel_id": channel,
        "channel_name": "directmessage" if channel.startswith("D") else channel.lower(),
        "user_id": user,
        "user_name": user.lower(),
        "command": "/threatwatch",
        "text": text,
        "api_app_id": "A0TEST01",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }


def mention_event(
    text: str, *, user: str, channel: str, ts: str = "1700000100.000001"
) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0TEST01",
        "type": "event_callback",
        "event_id": f"Ev{int(time.time() * 1e6)}",
        "event_time": int(time.time()),
        "event": {
            "type": "app_mention",
            "user": user,
            "text": text,
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
        },
        "authorizations": [{"team_id": TEAM, "user_id": "UBOT0001", "is_bot": True}],
    }


def direct_message(
    text: str, *, user: str, files: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """A message to the bot in its Messages tab (with files: subtype file_share)."""
    payload = mention_event(text, user=user, channel="D" + user)
    payload["event"] |= {"type": "message", "channel_type": "im"}
    if files:
        payload["event"] |= {"subtype": "file_share", "files": files}
    return payload


def button_press(
    action_id: str, value: str, *, user: str, channel: str, message_ts: str, response_url: str
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "api_app_id": "A0TEST01",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "trigger_id": "1.2.3",
        "channel": {"id": channel, "name": channel.lower()},
        "message": {"type": "message", "ts": message_ts, "text": "alert"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "threatwatch-actions",
                "value": value,
                "action_ts": str(time.time()),
            }
        ],
    }


@dataclass
class Answer:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class SignedSender:
    """POSTs to an app's events URL, signed with ``secret`` (or deliberately not)."""

    url: str
    secret: str

    def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        timeout: float = 30,
    ) -> Answer:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = SignatureVerifier(secret or self.secret).generate_signature(
            timestamp=ts, body=body
        )
        request = Request(
            self.url,
            data=body.encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": signature or "",
            },
        )
        try:
            with urlopen(request, timeout=timeout) as response:
                return Answer(response.status, response.read().decode("utf-8"))
        except HTTPError as exc:
            return Answer(exc.code, exc.read().decode("utf-8"))

    def command(self, payload: dict[str, str], **kwargs: Any) -> Answer:
        return self.post(urlencode(payload), "application/x-www-form-urlencoded", **kwargs)

    def event(self, payload: dict[str, Any], **kwargs: Any) -> Answer:
        return self.post(json.dumps(payload), "application/json", **kwargs)

    def interaction(self, payload: dict[str, Any], **kwargs: Any) -> Answer:
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", **kwargs)
