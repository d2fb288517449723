"""A fresh SQLite file opened by several connections at once ends in WAL mode with none of
them refused: SQLite answers the switch with an immediate "database is locked" to all but
one (it does not wait on the busy timeout there), which once killed a replica's startup."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from shared.db import use_wal

CONNECTIONS = 8
FRESH_FILES = 40  # the raw PRAGMA failed in about one of ten of these rounds


def _open_together(path: Path) -> list[sqlite3.Error]:
    together = threading.Barrier(CONNECTIONS)
    refused: list[sqlite3.Error] = []

    def connection() -> None:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            together.wait()
            use_wal(conn)
        except sqlite3.Error as error:
            refused.append(error)
        finally:
            conn.close()

    threads = [threading.Thread(target=connection) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return refused


def test_connections_racing_on_a_fresh_file_all_get_wal(tmp_path: Path) -> None:
    for n in range(FRESH_FILES):
        path = tmp_path / f"fresh-{n}.db"
        assert _open_together(path) == []
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        conn.close()
