"""What the fake Slack Web API (testkit/slack_api.py) records and how it reads a call: the
messages the bot posted, the channels it knows, the faults it injects."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Fault:
    error: str
    status: int = 200
    retry_after: int | None = None


@dataclass
class Posted:
    """One message the bot posted, updated, answered ephemerally or through a response_url."""

    method: str
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    user: str | None = None  # ephemeral: who sees it
    response_type: str | None = None  # response_url / ack answers
    edits: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None  # chat.postMessage's message metadata, as given

    def as_message(self, *, with_metadata: bool) -> dict[str, Any]:
        """The message as conversations.history shows it: its metadata only when asked for
        (include_all_metadata), as Slack does."""
        message: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        if with_metadata and self.metadata:
            message["metadata"] = self.metadata
        return message

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(action_id, value) of every button."""
        return [
            (e.get("action_id", ""), e.get("value", ""))
            for b in self.blocks
            if b.get("type") == "actions"
            for e in b.get("elements", [])
        ]

    @property
    def mrkdwn(self) -> str:
        """The text of every section and context block, joined."""
        parts = []
        for b in self.blocks:
            if b.get("type") == "section":
                parts.append(b["text"]["text"])
            elif b.get("type") == "context":
                parts.extend(e.get("text", "") for e in b.get("elements", []))
        return "\n".join(parts) or self.text


@dataclass
class Channel:
    id: str
    members: list[str]
    is_member: bool = True
    is_private: bool = False
    is_archived: bool = False


def call_params(query: dict[str, str], raw: bytes, content_type: str) -> dict[str, Any]:
    """A Web API call's arguments, from the query string and a form or JSON body."""
    params: dict[str, Any] = dict(query)
    if content_type.startswith("application/json"):
        return params | dict(json.loads(raw or b"{}"))
    params |= dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    for key in ("blocks", "files", "attachments", "metadata"):
        if isinstance(params.get(key), str) and params[key].startswith(("[", "{")):
            params[key] = json.loads(params[key])
    return params


def truthy(value: Any) -> bool:
    """A boolean argument as a client may send it: true, "true", "1"."""
    return value is True or str(value).lower() in ("1", "true")


def history_page(
    posted: list[Posted], params: dict[str, Any], *, thread: str | None
) -> dict[str, Any]:
    """conversations.history (a channel's top-level messages, newest first) or, with
    ``thread``, conversations.replies (the parent and its replies, oldest first): messages
    after ``oldest``, ``limit`` a page, the next page's cursor an offset."""
    channel = str(params.get("channel", ""))
    oldest = float(params.get("oldest") or 0)
    mine = [p for p in posted if p.channel == channel and p.method == "chat.postMessage"]
    if thread is None:
        chosen = [p for p in reversed(mine) if p.thread_ts is None or p.thread_ts == p.ts]
    else:
        chosen = [p for p in mine if p.ts == thread or p.thread_ts == thread]
    chosen = [p for p in chosen if float(p.ts) > oldest]
    start, limit = int(params.get("cursor") or 0), int(params.get("limit") or 100)
    page = chosen[start : start + limit]
    more = start + limit < len(chosen)
    with_metadata = truthy(params.get("include_all_metadata"))
    return {
        "messages": [p.as_message(with_metadata=with_metadata) for p in page],
        "has_more": more,
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }
