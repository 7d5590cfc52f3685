"""Append-only schema migrations. Never edit a shipped migration: add a new one at the end."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: core pipeline
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        name TEXT,
        status TEXT NOT NULL DEFAULT 'active',
        etag TEXT,
        last_modified TEXT,
        next_check_at TEXT NOT NULL,
        last_checked_at TEXT,
        last_success_at TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        items_seen INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE INDEX feeds_due ON feeds (status, next_check_at);

    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        feed_id INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
        guid TEXT NOT NULL,
        url TEXT,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        published TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        author TEXT,
        source TEXT,
        content_hash TEXT NOT NULL
    );
    CREATE INDEX articles_guid ON articles (guid);
    CREATE INDEX articles_url ON articles (url);
    CREATE INDEX articles_hash ON articles (content_hash);
    CREATE INDEX articles_published ON articles (published);

    -- one row per embedded passage of an article (long articles are chunked, not truncated)
    CREATE TABLE article_chunks (
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        chunk INTEGER NOT NULL,
        model TEXT NOT NULL,
        passage TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (article_id, model, chunk)
    );

    CREATE TABLE topics (
        name TEXT PRIMARY KEY,
        description TEXT NOT NULL DEFAULT '',
        threshold REAL NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE seeds (
        id INTEGER PRIMARY KEY,
        topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
        kind TEXT NOT NULL DEFAULT 'positive',
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        origin TEXT NOT NULL,
        created_at TEXT NOT NULL,
        removed_at TEXT,
        UNIQUE (topic, kind, content_hash)
    );

    -- seed vectors are cached by (model, content hash): adding a seed embeds only that seed
    CREATE TABLE seed_chunks (
        content_hash TEXT NOT NULL,
        model TEXT NOT NULL,
        chunk INTEGER NOT NULL,
        passage TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (content_hash, model, chunk)
    );

    CREATE TABLE matches (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        topic TEXT NOT NULL,
        score REAL NOT NULL,
        threshold REAL NOT NULL,
        seed_id INTEGER,
        seed_title TEXT,
        passage TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (article_id, topic)
    );
    CREATE INDEX matches_topic_created ON matches (topic, created_at);

    CREATE TABLE channels (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        thread_id TEXT NOT NULL DEFAULT '',
        title TEXT,
        settings TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        UNIQUE (platform, chat_id, thread_id)
    );

    CREATE TABLE subscriptions (
        channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        topic TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'active',
        paused_reason TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (channel_id, topic)
    );

    -- durable outbox: one row per (match, channel); delivery marks it sent exactly once
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        match_id INTEGER NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
        channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        sent_at TEXT,
        message_ref TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (match_id, channel_id)
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

    -- small facts about this database, e.g. that the default feeds were loaded once
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

    CREATE TABLE cycles (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        report TEXT NOT NULL
    );
    """,
    # 2: relevance — stories, summaries, feedback, versioned topics
    """
    -- reports of the same event across outlets share a story; the first report alerts, later
    -- ones are threaded under it (role 'repeat') or flagged as an update (role 'update')
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        first_article_id INTEGER REFERENCES articles(id) ON DELETE SET NULL,
        reports INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    ALTER TABLE articles ADD COLUMN story_id INTEGER REFERENCES stories(id) ON DELETE SET NULL;
    CREATE INDEX articles_story ON articles (story_id);
    ALTER TABLE matches ADD COLUMN story_role TEXT NOT NULL DEFAULT 'first';
    ALTER TABLE matches ADD COLUMN summary TEXT NOT NULL DEFAULT '';
    -- the raw similarity beside the calibrated score, so /why can show both
    ALTER TABLE matches ADD COLUMN similarity REAL;

    -- relevance feedback from chat (👍 = 1, 👎 = -1) and the CLI; one vote per user per alert
    CREATE TABLE feedback (
        match_id INTEGER NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
        created_at TEXT NOT NULL,
        applied_version INTEGER,
        PRIMARY KEY (match_id, platform, user_id)
    );

    -- every change to a topic (threshold, seeds, counter-examples, trained scorer) is a new
    -- version with a full snapshot, so it can be listed and rolled back
    CREATE TABLE topic_versions (
        topic TEXT NOT NULL,
        version INTEGER NOT NULL,
        reason TEXT NOT NULL,
        snapshot TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (topic, version)
    );
    """,
    # 3: topics that learn — facets from config, threshold mode, the active version
    """
    ALTER TABLE topics ADD COLUMN facets TEXT NOT NULL DEFAULT '[]';
    -- 'auto': the threshold cross-validation picks for the active version; 'manual': an admin's
    ALTER TABLE topics ADD COLUMN threshold_mode TEXT NOT NULL DEFAULT 'manual';
    ALTER TABLE topics ADD COLUMN active_version INTEGER;
    """,
    # 4: WebSub — the hub and self links a feed advertises, and our subscription to that hub
    """
    ALTER TABLE feeds ADD COLUMN hub_url TEXT;
    ALTER TABLE feeds ADD COLUMN self_url TEXT;

    -- one subscription per feed; callback_token is the unguessable last segment of the callback
    -- URL, secret the HMAC key the hub signs content with. state: pending (asked, not yet
    -- verified), active (verified, lease until expires_at), denied, failed. next_attempt_at is
    -- when the subscriber acts next: renew, or ask again after a failure or an unanswered request
    CREATE TABLE websub_subscriptions (
        feed_id INTEGER PRIMARY KEY REFERENCES feeds(id) ON DELETE CASCADE,
        hub_url TEXT NOT NULL,
        topic_url TEXT NOT NULL,
        callback_token TEXT NOT NULL UNIQUE,
        secret TEXT NOT NULL,
        state TEXT NOT NULL,
        awaiting_verification INTEGER NOT NULL DEFAULT 0,
        lease_seconds INTEGER,
        expires_at TEXT,
        requested_at TEXT NOT NULL,
        verified_at TEXT,
        next_attempt_at TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        deliveries INTEGER NOT NULL DEFAULT 0,
        last_delivery_at TEXT
    );
    CREATE INDEX websub_next ON websub_subscriptions (next_attempt_at);
    """,
    # 5: `latest` reads matches newest first through an index instead of sorting every match
    """
    -- the article's published date (its sort key), copied when the match is saved; articles'
    -- dates never change once stored
    ALTER TABLE matches ADD COLUMN published TEXT NOT NULL DEFAULT '';
    UPDATE matches SET published = coalesce(
        (SELECT a.published FROM articles a WHERE a.id = matches.article_id), '');
    CREATE INDEX matches_topic_published ON matches (topic, published, id);
    CREATE INDEX matches_published ON matches (published, id);
    """,
    # 6: feed leases — several processes poll the same feeds; each feed is held by one at a time
    """
    -- who polls the feed now and until when; lease_epoch grows with every claim and fences a
    -- holder whose lease ran out: its results carry the old epoch and are refused
    ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
    ALTER TABLE feeds ADD COLUMN lease_until TEXT;
    ALTER TABLE feeds ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
    """,
    # 7: the language each article is written in (ISO 639-1, 'und' when unsure; '' before this)
    """
    ALTER TABLE articles ADD COLUMN language TEXT NOT NULL DEFAULT '';
    """,
    # 8: the alert's role line ("who → what → whom, where"), stored with the match
    """
    ALTER TABLE matches ADD COLUMN roles TEXT NOT NULL DEFAULT '';
    """,
    # 9: why a 👎 ("wrong target", "not an attack", "old news"), kept with the vote
    """
    ALTER TABLE feedback ADD COLUMN reason TEXT;
    """,
    # 10: spike alerts through a durable outbox of their own: the alert once, with its chart
    """
    -- one row per activity spike alert; the chart is the PNG rendered when the spike was found,
    -- kept so that a retry after an outage sends the same picture (reports: JSON list)
    CREATE TABLE spike_alerts (
        id INTEGER PRIMARY KEY,
        topic TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        measure TEXT NOT NULL,
        count INTEGER NOT NULL,
        median REAL NOT NULL,
        z REAL NOT NULL,
        reports TEXT NOT NULL DEFAULT '[]',
        chart_filename TEXT NOT NULL,
        chart BLOB NOT NULL
    );
    CREATE INDEX spike_alerts_topic ON spike_alerts (topic, detected_at);

    -- one row per (spike alert, chat), sent once and marked sent like the alert outbox's rows;
    -- a process claims a row by moving next_attempt_at past the send before it sends
    CREATE TABLE spike_outbox (
        id INTEGER PRIMARY KEY,
        spike_id INTEGER NOT NULL REFERENCES spike_alerts(id) ON DELETE CASCADE,
        channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        sent_at TEXT,
        message_ref TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (spike_id, channel_id)
    );
    CREATE INDEX spike_outbox_due ON spike_outbox (status, next_attempt_at);
    """,
    # 11: outbox drained by many processes: each chat held by one sender at a time (chat_claims),
    # a send marked 'sending' before the platform is called (two-phase), and the platforms'
    # rate limits shared through the database (send_windows). Self-contained: no other
    # migration's columns are touched.
    """
    -- the last attempt at sending the row: its id (Slack messages carry it in their metadata),
    -- the process that made it and when; a row left 'sending' past the claim timeout was
    -- abandoned by a crashed sender and is sent again (or found in Slack's history)
    ALTER TABLE outbox ADD COLUMN attempt_id TEXT;
    ALTER TABLE outbox ADD COLUMN sending_by TEXT;
    ALTER TABLE outbox ADD COLUMN sending_at TEXT;
    CREATE INDEX outbox_channel_status ON outbox (channel_id, status, id);

    -- who sends to the chat now and until when; epoch grows with every new holder
    CREATE TABLE chat_claims (
        channel_id INTEGER PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
        lease_owner TEXT,
        lease_until TEXT,
        epoch INTEGER NOT NULL DEFAULT 0
    );

    -- the recent sends of a shared rate window ('telegram', 'telegram:chat:-100…'): a JSON list
    -- of [unix time, attempt token or null]; a token marks a send still in flight
    CREATE TABLE send_windows (
        scope TEXT PRIMARY KEY,
        sends TEXT NOT NULL DEFAULT '[]'
    );
    """,
    # 12: chat updates when several processes receive them (bot/store/chat_updates.py): each
    # update's id once, so a webhook or event retried onto another process is answered once,
    # and where the elected Telegram long-poll listener goes on from
    """
    CREATE TABLE IF NOT EXISTS chat_updates (
        source TEXT NOT NULL,  -- 'telegram', 'slack'
        update_key TEXT NOT NULL,  -- Telegram update_id, Slack event_id or trigger_id
        seen_at TEXT NOT NULL,  -- kept for a retention window, then forgotten
        PRIMARY KEY (source, update_key)
    );
    CREATE INDEX IF NOT EXISTS chat_updates_seen ON chat_updates (seen_at);
    CREATE TABLE IF NOT EXISTS chat_update_offsets (
        source TEXT PRIMARY KEY,
        next_offset INTEGER NOT NULL,  -- getUpdates offset: the first update not yet taken
        updated_at TEXT NOT NULL
    );
    """,
]
