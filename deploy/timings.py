"""Wall time of each step of a run, printed as a table and kept as JSON next to the logs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Timings:
    steps: list[tuple[str, float, str]] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @contextmanager
    def step(self, name: str, note: str = "") -> Iterator[dict[str, str]]:
        """Time the block; it may set info["note"] (e.g. "cached")."""
        info = {"note": note}
        began = time.monotonic()
        print(f"--- {name} ...", flush=True)
        try:
            yield info
        finally:
            seconds = time.monotonic() - began
            self.steps.append((name, seconds, info["note"]))
            print(f"--- {name}: {seconds:.1f} s {info['note']}".rstrip(), flush=True)

    def table(self) -> str:
        width = max((len(name) for name, _, _ in self.steps), default=10)
        rows = [
            f"  {name:<{width}}  {seconds:7.1f} s  {note}".rstrip()
            for name, seconds, note in self.steps
        ]
        rows.append(f"  {'total':<{width}}  {time.monotonic() - self.started:7.1f} s")
        rows += [f"  {key}: {value}" for key, value in self.facts.items()]
        return "\n".join(rows)

    def save(self, path: Path) -> None:
        path.write_text(
            json.dumps(
                {
                    "steps": [
                        {"step": n, "seconds": round(s, 1), "note": t} for n, s, t in self.steps
                    ],
                    "total_seconds": round(time.monotonic() - self.started, 1),
                    **self.facts,
                },
                indent=2,
            )
        )
