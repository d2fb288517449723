"""The published event contract: JSON schemas per event type and version, and the rule for
changing them. Compatible: a new optional field, a wider description. Breaking: a removed
field, a retyped field, a newly required field; those need a new schema version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.events import CATALOG

SNAPSHOT = Path(__file__).resolve().parent.parent / "docs" / "event-schemas.json"
_NOISE = {"title", "description", "default", "examples"}


def _resolve(schema: Any, defs: dict[str, Any]) -> Any:
    """Inline $refs and drop cosmetic keys, so two schemas compare by shape."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return _resolve(defs[name], defs)
        return {k: _resolve(v, defs) for k, v in schema.items() if k not in _NOISE | {"$defs"}}
    if isinstance(schema, list):
        return [_resolve(v, defs) for v in schema]
    return schema


def breaking_changes(old: dict[str, Any], new: dict[str, Any], path: str = "") -> list[str]:
    """Why `new` cannot replace `old` under the same version (empty: compatible)."""
    old = _resolve(old, old.get("$defs", {}))
    new = _resolve(new, new.get("$defs", {}))
    return _compare(old, new, path or "data")


def _compare(old: Any, new: Any, path: str) -> list[str]:
    problems: list[str] = []
    if isinstance(old, dict) and "properties" in old:
        new_props = new.get("properties", {}) if isinstance(new, dict) else {}
        for name, schema in old["properties"].items():
            if name not in new_props:
                problems.append(f"{path}.{name} was removed")
            else:
                problems += _compare(schema, new_props[name], f"{path}.{name}")
        added_required = set(new.get("required", [])) - set(old.get("required", []))
        for name in sorted(added_required):
            problems.append(f"{path}.{name} is newly required")
        return problems
    if isinstance(old, dict) and isinstance(new, dict):
        for key in ("type", "format", "enum", "const", "anyOf", "items"):
            if key in old and key != "items" and old.get(key) != new.get(key):
                if key == "anyOf" and _widened(old[key], new.get(key)):
                    continue
                problems.append(f"{path} changed {key}: {old.get(key)!r} -> {new.get(key)!r}")
        if "items" in old:
            problems += _compare(old["items"], new.get("items", {}), f"{path}[]")
    elif old != new:
        problems.append(f"{path} changed")
    return problems


def _widened(old: list[Any], new: Any) -> bool:
    return isinstance(new, list) and all(option in new for option in old)


def current_schemas() -> dict[str, dict[str, Any]]:
    return {
        name: {"version": cls.version, "stream": cls.stream, "schema": cls.model_json_schema()}
        for name, cls in sorted(CATALOG.items())
    }


def load_snapshot(path: Path = SNAPSHOT) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def check(snapshot: dict[str, dict[str, Any]]) -> list[str]:
    """Breaking changes of the code against the published snapshot."""
    problems: list[str] = []
    for name, published in snapshot.items():
        cls = CATALOG.get(name)
        if cls is None:
            problems.append(f"{name} was removed from the catalog")
            continue
        versions = published["versions"]
        if str(cls.version) not in versions:
            if cls.version < max(int(v) for v in versions):
                problems.append(f"{name} version went backwards to {cls.version}")
            continue  # a new version: free to change
        for problem in breaking_changes(versions[str(cls.version)], cls.model_json_schema()):
            problems.append(f"{name} v{cls.version}: {problem} (needs a new version)")
    return problems


def updated_snapshot(snapshot: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The snapshot with the code's schemas recorded; refuses breaking changes."""
    problems = check(snapshot)
    if problems:
        raise ValueError("breaking event schema changes:\n  " + "\n  ".join(problems))
    out = {
        name: {"stream": v["stream"], "versions": dict(v["versions"])}
        for name, v in snapshot.items()
    }
    for name, current in current_schemas().items():
        entry = out.setdefault(name, {"stream": current["stream"], "versions": {}})
        entry["versions"][str(current["version"])] = current["schema"]
    return out
