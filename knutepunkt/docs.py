"""Generated documents: the AsyncAPI 3.0 description of every stream and event, the
published event-schema snapshot, and each service's OpenAPI. `make docs` writes them;
tests fail when the committed ones are stale."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from knutepunkt import contract
from shared.events import CATALOG, CONSUMERS, PRODUCERS, Envelope
from shared.service import VERSION

DOCS = Path(__file__).resolve().parent.parent / "docs"


def asyncapi() -> dict[str, Any]:
    models = sorted(CATALOG.items())
    _, top = models_json_schema(
        [(cls, "validation") for _, cls in models] + [(Envelope, "validation")],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for name, cls in models:
        envelope = {
            "allOf": [
                {"$ref": "#/components/schemas/Envelope"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": name},
                        "schemaversion": {"const": cls.version},
                        "data": {"$ref": f"#/components/schemas/{name}"},
                    },
                },
            ]
        }
        messages[name] = {
            "name": name,
            "title": name,
            "summary": (cls.__doc__ or name).strip().splitlines()[0],
            "contentType": "application/json",
            "payload": envelope,
            "x-schema-version": cls.version,
        }
    for stream, producer in PRODUCERS.items():
        refs = {
            n: {"$ref": f"#/components/messages/{n}"} for n, cls in models if cls.stream == stream
        }
        channels[stream] = {
            "address": stream,
            "description": (
                f"Redis stream written by the {producer} service's outbox relay. Each entry "
                "has one field, `__data__`, holding the CloudEvents envelope as JSON. "
                f"Dead letters go to `{stream}.dlq`."
            ),
            "messages": refs,
        }
        channel_messages = [{"$ref": f"#/channels/{stream}/messages/{n}"} for n in refs]
        operations[f"{producer}.publishes.{stream}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{stream}"},
            "messages": channel_messages,
        }
        for group in CONSUMERS[stream]:
            operations[f"{group}.consumes.{stream}"] = {
                "action": "receive",
                "summary": f"consumer group `{group}`",
                "channel": {"$ref": f"#/channels/{stream}"},
                "messages": channel_messages,
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Knutepunkt events",
            "version": VERSION,
            "description": (
                "Events between the services of Knutepunkt Strømsø. See docs/events.md for "
                "the wire format and the delivery promises."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "redis": {"host": "redis:6379", "protocol": "redis", "description": "REDIS_URL"}
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def render_asyncapi() -> str:
    return yaml.safe_dump(asyncapi(), sort_keys=False, allow_unicode=True, width=100)


def render_snapshot() -> str:
    snapshot = contract.updated_snapshot(contract.load_snapshot())
    return json.dumps(snapshot, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def openapi_documents() -> dict[str, str]:
    from importlib import import_module

    out: dict[str, str] = {}
    for service in ("booking", "loans", "catering", "notify"):
        spec = import_module(f"services.{service}.app").SPEC
        from shared.service import create_app
        from shared.settings import load_settings

        app = create_app(spec, load_settings(service))
        out[service] = json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
    return out


def write(docs: Path = DOCS, openapi: bool = True) -> list[Path]:
    docs.mkdir(parents=True, exist_ok=True)
    written = [docs / "asyncapi.yaml", docs / "event-schemas.json"]
    written[0].write_text(render_asyncapi())
    written[1].write_text(render_snapshot())
    if openapi:
        (docs / "openapi").mkdir(exist_ok=True)
        for service, text in openapi_documents().items():
            path = docs / "openapi" / f"{service}.json"
            path.write_text(text)
            written.append(path)
    return written


if __name__ == "__main__":
    for path in write(openapi="--no-openapi" not in sys.argv):
        print(f"wrote {path.relative_to(DOCS.parent)}")
