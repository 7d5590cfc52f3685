"""Subscribing to hubs, answering their verification requests, accepting signed content.

A feed whose last fetch advertised a hub (``Feed.hub_url``; the topic is its rel="self" URL, else
the feed URL) gets a subscription: the row is written as pending *before* the request goes out,
because a hub may verify before it answers. The hub's verification GET is echoed only for a
known callback token, the subscribed topic and a subscribe we asked for (or a lease we hold);
anything else is 404. Leases are renewed a tenth of their length before they end; failed
requests are retried with exponential backoff. Hub URLs go through the same SSRF guard as feed
URLs: checked before the request and again at connect time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from bot.core.errors import URLRefused
from bot.core.models import Feed, FeedStatus, WebSubState, WebSubSubscription
from bot.core.settings import Settings
from bot.ingest.netguard import guarded_transport, redact_url, validate_url
from bot.ingest.schedule import backoff_seconds
from bot.store import Store
from bot.websub import protocol

log = logging.getLogger(__name__)

VERIFY_WAIT = timedelta(minutes=10)  # ask again when a hub has not verified by then
DENIED_RETRY = timedelta(days=1)
RETRY_BASE_SECONDS = 300.0
RETRY_CAP_SECONDS = 86_400.0


@dataclass(frozen=True)
class Reply:
    status: int
    text: str = ""


@dataclass(frozen=True)
class Delivery:
    """Signed content from a hub, accepted for the ingest path."""

    feed: Feed
    body: bytes
    headers: Mapping[str, str]  # lower-case names


class WebSubSubscriber:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.callback_base = settings.websub_callback_url or ""
        self._client = httpx.AsyncClient(
            transport=transport or guarded_transport(allow_private=settings.allow_private_networks),
            follow_redirects=False,  # a redirect would skip validate_url; a hub does not need one
            timeout=httpx.Timeout(settings.fetch_timeout),
            headers={"User-Agent": settings.user_agent},
            trust_env=False,  # an environment proxy would bypass the SSRF guard
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- subscribing and renewing -------------------------------------------------------------
    async def maintain(self) -> int:
        """Subscribe, re-subscribe or renew wherever it is due; returns how many requests."""
        work = self.store.websub_work(self.clock())
        for feed, current in work:
            await self.subscribe(feed, current)
        return len(work)

    async def subscribe(self, feed: Feed, current: WebSubSubscription | None) -> None:
        assert feed.hub_url is not None
        hub, topic, now = feed.hub_url, feed.self_url or feed.url, self.clock()
        same = current is not None and (current.hub_url, current.topic_url) == (hub, topic)
        token = current.callback_token if same and current else protocol.new_token()
        secret = current.secret if same and current else protocol.new_secret()
        self.store.websub_requesting(
            feed.id,
            hub_url=hub,
            topic_url=topic,
            callback_token=token,
            secret=secret,
            now=now,
            next_attempt_at=now + VERIFY_WAIT,
        )
        form = {
            "hub.mode": "subscribe",
            "hub.topic": topic,
            "hub.callback": protocol.callback_url(self.callback_base, token),
            "hub.secret": secret,
            "hub.lease_seconds": str(self.settings.websub_lease_seconds),
        }
        try:
            url = validate_url(hub, allow_private=self.settings.allow_private_networks)
            response = await self._client.post(url, data=form)
        except URLRefused as exc:
            return self._failed(feed, current, str(exc))
        except httpx.HTTPError as exc:
            return self._failed(feed, current, f"{type(exc).__name__} asking {redact_url(hub)}")
        if not 200 <= response.status_code < 300:
            return self._failed(
                feed, current, f"hub {redact_url(hub)} answered HTTP {response.status_code}"
            )
        log.info("websub: asked %s to push feed %s (%s)", redact_url(hub), feed.id, topic)

    def _failed(self, feed: Feed, current: WebSubSubscription | None, error: str) -> None:
        failures = (current.failures if current else 0) + 1
        delay = backoff_seconds(failures, base=RETRY_BASE_SECONDS, cap=RETRY_CAP_SECONDS)
        self.store.websub_request_failed(
            feed.id, error=error, next_attempt_at=self.clock() + timedelta(seconds=delay)
        )
        log.warning("websub: feed %s: %s", feed.id, error)

    # --- the hub's verification GET -----------------------------------------------------------
    def verification(self, token: str, query: Mapping[str, str]) -> Reply:
        sub = self.store.websub_by_token(token)
        if sub is None or query.get("hub.topic") != sub.topic_url:
            return Reply(404)
        mode, now = query.get("hub.mode"), self.clock()
        expected = sub.awaiting_verification or sub.state is WebSubState.ACTIVE
        if mode == "subscribe" and expected:
            challenge = query.get("hub.challenge", "")
            if not challenge or len(challenge) > protocol.MAX_CHALLENGE:
                return Reply(400)
            lease = protocol.granted_lease(
                query.get("hub.lease_seconds"), self.settings.websub_lease_seconds
            )
            self.store.websub_verified(
                sub.feed_id,
                lease_seconds=lease,
                now=now,
                expires_at=now + timedelta(seconds=lease),
                renew_at=protocol.renew_at(now, lease),
            )
            log.info("websub: feed %s verified, lease %ss", sub.feed_id, lease)
            return Reply(200, challenge)
        if mode == "denied" and sub.awaiting_verification:
            reason = " ".join(query.get("hub.reason", "").split())[:200]
            self.store.websub_request_failed(
                sub.feed_id,
                error=f"hub denied the subscription: {reason or 'no reason given'}",
                next_attempt_at=now + DENIED_RETRY,
                denied=True,
            )
            log.warning("websub: feed %s: hub denied the subscription", sub.feed_id)
            return Reply(200)
        return Reply(404)  # e.g. an unsubscribe we never asked for

    # --- content distribution -----------------------------------------------------------------
    def delivery(
        self, token: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[Reply, Delivery | None]:
        """Check a content POST. Unknown token: 404. Missing or wrong signature: 202 and nothing
        more (the spec: acknowledge, then ignore). Otherwise the delivery to ingest, which the
        receiver reports back through ``accepted`` once it has room for it."""
        sub = self.store.websub_by_token(token)
        if sub is None:
            return Reply(404), None
        if not protocol.signature_ok(headers.get("x-hub-signature"), body, sub.secret):
            log.warning("websub: feed %s: content without a valid signature ignored", sub.feed_id)
            return Reply(202), None
        feed = self.store.feed(sub.feed_id)
        if feed.status is not FeedStatus.ACTIVE:
            return Reply(202), None
        return Reply(202), Delivery(feed, body, headers)

    def accepted(self, delivery: Delivery) -> None:
        # counted only once queued: a push refused for a full queue (503) writes nothing
        self.store.websub_delivered(delivery.feed.id, self.clock())
