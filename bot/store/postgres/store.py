"""The PostgreSQL store: the same operations and models as the SQLite ``Store``, on a shared
database that any number of processes may use at once."""

from __future__ import annotations

from bot.store.postgres.channels import PgDeliveryPart
from bot.store.postgres.chat_claims import PgChatClaimsPart, PgSendWindowsPart
from bot.store.postgres.chat_updates import PgChatUpdatesPart
from bot.store.postgres.feeds import PgFeedsPart
from bot.store.postgres.leases import PgLeasesPart
from bot.store.postgres.spike_outbox import PgSpikeOutboxPart
from bot.store.postgres.topics import PgTopicsPart
from bot.store.postgres.trends import PgTrendsPart
from bot.store.postgres.vectors import PgVectorsPart
from bot.store.postgres.websub import PgWebSubPart


class PostgresStore(
    PgFeedsPart,
    PgTopicsPart,
    PgChatClaimsPart,
    PgDeliveryPart,
    PgVectorsPart,
    PgWebSubPart,
    PgLeasesPart,
    PgChatUpdatesPart,
    PgTrendsPart,
    PgSpikeOutboxPart,
    PgSendWindowsPart,
):
    """The one object that reads and writes a PostgreSQL database (``postgresql://`` URL)."""
