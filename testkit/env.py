"""The environment a `threatwatch` process gets in tests and benches: everything under one
folder, loopback feeds allowed, no default feeds, no network fetches of article pages."""

from __future__ import annotations

from pathlib import Path


def local_env(
    root: Path, *, embedder: str = "hashing", poll_interval: int = 5, **extra: str
) -> dict[str, str]:
    """THREATWATCH_* settings for a bot whose database, config and seeds live under ``root``.
    ``extra`` adds or overrides variables (a platform's token and API URL, say)."""
    return {
        "THREATWATCH_DB": str(root / "bot.db"),
        "THREATWATCH_CONFIG_DIR": str(root / "config"),
        "THREATWATCH_SEEDS_DIR": str(root / "seeds"),
        "THREATWATCH_EMBEDDER": embedder,
        # the tests' feeds, hubs and chat APIs are local servers
        "THREATWATCH_ALLOW_PRIVATE_NETWORKS": "true",
        "THREATWATCH_LOAD_DEFAULT_FEEDS": "false",
        "THREATWATCH_FETCH_FULL_TEXT": "false",
        "THREATWATCH_POLL_INTERVAL": str(poll_interval),
        # a process killed in the middle of delivery frees its chats after this long, so the
        # restarted one goes on within seconds (the default, 30 s, outlasts a slow request)
        "THREATWATCH_DELIVERY_CLAIM_SECONDS": "2",
        "HF_HUB_OFFLINE": "1",
        **extra,
    }
