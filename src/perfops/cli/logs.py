"""`--log-format text|json`: structured logs for log shippers (Loki, Fluent Bit, Vector, Datadog).

JSON lines on stderr, one object per record: time (ISO 8601 UTC), level, logger, message, and the
record's `fields` (step, outcome, seconds, …). Uvicorn's own loggers go through the same formatter.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import typer

LOG_FORMATS = ("text", "json")
LOGGER = "perfops"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            body["error"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {}) or {}
        tail = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{record.getMessage()}{' ' + tail if tail else ''}"


def check_format(value: str) -> str:
    if value not in LOG_FORMATS:
        raise typer.BadParameter(f"'{value}' is not a log format; expected text or json")
    return value


def configure(fmt: str, level: int = logging.INFO) -> logging.Logger:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logger = logging.getLogger(LOGGER)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    return logger


def uvicorn_config(fmt: str) -> dict[str, Any] | None:
    """A logging dictConfig for uvicorn in JSON (None: uvicorn's default text logs)."""
    if fmt != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"default": handler},
        "loggers": {name: {"handlers": ["default"], "level": "INFO", "propagate": False}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }


def log(logger: logging.Logger, message: str, fields: dict[str, object], level: int = logging.INFO) -> None:
    logger.log(level, message, extra={"fields": fields})
