"""Structured logs: one JSON object per line on stderr. Never pass credentials to a logger.

Every line passes through the run's scrubber (redact.Scrubber, set by :func:`use_scrubber` once
the configuration is known): a secret that reached a log record anyway, e.g. in a traceback,
is replaced before the line is written."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from .redact import Scrubber

LOGGER_NAME = "archive_runner"
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, scrubber: Scrubber | None = None) -> None:
        super().__init__()
        self.scrubber = scrubber or Scrubber()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # Every value as it will be written (default=str), then scrubbed.
        plain = json.loads(json.dumps(entry, ensure_ascii=False, default=str))
        return json.dumps(self.scrubber.value(plain), ensure_ascii=False)


def setup_logging(level: int = logging.INFO) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def use_scrubber(scrubber: Scrubber) -> None:
    """Scrub the run's secrets out of every line the runner's logger writes from now on."""
    for handler in get_logger().handlers:
        if isinstance(handler.formatter, JsonFormatter):
            handler.formatter.scrubber = scrubber
