"""Log set-up: the usual one-line text, or with THREATWATCH_LOG_FORMAT=json one JSON object per
line (time, level, logger, message, and any fields the call passed in ``extra=``: feed_id,
article_id, alert_id, chat…). Secrets are redacted from the finished line either way
(``bot.core.logsafe`` wraps every root handler's formatter)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# attributes every LogRecord has: anything else on a record came in through ``extra=``
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = (
                    value if isinstance(value, str | int | float | bool | None) else str(value)
                )
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def log_format_from_env(environ: dict[str, str]) -> str:
    """THREATWATCH_LOG_FORMAT (environment or .env) before anything logs; when the settings
    cannot be read (their error is reported later), the environment's value."""
    from bot.core.settings import Settings

    try:
        return Settings().log_format
    except Exception:
        value = environ.get("THREATWATCH_LOG_FORMAT", "text").strip().lower()
        return value if value in ("text", "json") else "text"


def configure_logging(level: int, fmt: str = "text", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
