"""Structured logs with the correlation id, personal data scrubbed, and Prometheus metrics."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shared.action_links import PATH

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)

# Phone numbers (8+ digits, optionally +country and spaces) and email addresses are personal
# data and must never reach a log line, whoever wrote the message.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d ]{6,}\d(?![\w-])")
# A one-click link's token (shared/action_links.py) would let whoever reads the log use it.
_LINK_TOKEN = re.compile(re.escape(PATH) + r"[^\s\"'<>?#]+")
# So would a manage link (shared/manage_links.py): `/mine/<kind>/<id>/<token>`, the id may
# stay; a borrower's page (the loans service's token) has no id: `/mine/lan/<token>`, nor
# has a recipient's choices (notify's preference token): `/mine/varsler/<token>`.
_MANAGE_TOKEN = re.compile(r"(/mine/(?:lan/|varsler/|[a-z]+/[A-Za-z0-9_-]+/))[^\s\"'<>?#/]+")


def scrub(text: str, names: Iterable[str] = ()) -> str:
    """`text` without phone numbers, email addresses and link tokens; `names` are people's
    names the caller knows to be in play (a recipient's), removed too: a name cannot be
    recognised by its shape."""
    text = _LINK_TOKEN.sub(PATH + "[token]", text)
    text = _MANAGE_TOKEN.sub(r"\1[token]", text)
    text = _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))
    for name in names:
        # Very short "names" (initials) would blank out ordinary words.
        if name and len(name.strip()) >= 3:
            text = re.sub(re.escape(name.strip()), "[name]", text, flags=re.IGNORECASE)
    return text


class _ScrubFilter(logging.Filter):
    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        record.correlation_id = correlation_id.get()
        record.service = self.service
        return True


class JsonFormatter(logging.Formatter):
    _skip = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._skip and value is not None:
                payload[key] = value if isinstance(value, int | float | bool) else scrub(str(value))
        if record.exc_info:
            payload["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(payload, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        cid = getattr(record, "correlation_id", None)
        line = f"{record.levelname:<7} {record.name}: {record.getMessage()}"
        if cid:
            line += f" [cid={cid}]"
        if record.exc_info:
            line += "\n" + scrub(self.formatException(record.exc_info))
        return line


def configure_logging(level: str = "INFO", fmt: str = "auto", service: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(_ScrubFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Metrics:
    """One registry per service process, so tests can run several services in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.http_latency = Histogram(
            "http_request_seconds", "HTTP request latency", ["method", "route"], registry=r
        )
        self.events_published = Counter(
            "events_published", "Events published by the outbox relay", ["stream"], registry=r
        )
        self.events_consumed = Counter(
            "events_consumed", "Events handled by a consumer", ["stream", "outcome"], registry=r
        )
        self.events_retried = Counter(
            "events_retried", "Deliveries retried after a handler error", ["stream"], registry=r
        )
        self.events_dead_lettered = Counter(
            "events_dead_lettered", "Entries moved to a dead-letter stream", ["stream"], registry=r
        )
        self.outbox_backlog = Gauge("outbox_backlog", "Outbox rows not yet published", registry=r)
        self.outbox_lag_seconds = Gauge(
            "outbox_lag_seconds", "Age of the oldest unpublished outbox row", registry=r
        )
        self.consumer_lag = Gauge(
            "consumer_group_lag", "Entries not yet read by a group", ["stream", "group"], registry=r
        )
        self.consumer_lag_seconds = Gauge(
            "consumer_group_lag_seconds",
            "Age of the oldest entry a group has not consumed (pending or unread)",
            ["stream", "group"],
            registry=r,
        )
        self.consumer_pending = Gauge(
            "consumer_group_pending", "Entries read but not acked", ["stream", "group"], registry=r
        )
        self.deliveries = Counter(
            "deliveries", "Notification deliveries", ["channel", "status"], registry=r
        )
