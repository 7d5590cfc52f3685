"""The SQLite store (sqlite-utils, WAL), the embedded default. Every multi-row change happens in one transaction.

The store is one class assembled from parts, one per kind of data; only this package speaks SQL.
"""

from __future__ import annotations

from bot.store.articles import ArticlesPart
from bot.store.chat_claims import ChatClaimsPart
from bot.store.chat_updates import ChatUpdatesPart
from bot.store.delivery import DeliveryPart
from bot.store.feeds import FeedsPart
from bot.store.leases import LeasesPart
from bot.store.lookups import LookupsPart
from bot.store.send_windows import SendWindowsPart
from bot.store.spike_outbox import SpikeOutboxPart
from bot.store.topic_edits import TopicEditsPart
from bot.store.topics import TopicsPart
from bot.store.trends import TrendsPart
from bot.store.vectors import VectorsPart
from bot.store.websub import WebSubPart


class SqliteStore(
    FeedsPart,
    TopicEditsPart,
    TopicsPart,
    ChatClaimsPart,
    DeliveryPart,
    LookupsPart,
    ArticlesPart,
    VectorsPart,
    WebSubPart,
    LeasesPart,
    ChatUpdatesPart,
    TrendsPart,
    SpikeOutboxPart,
    SendWindowsPart,
):
    """The one object that reads and writes the database."""
