"""SQLite's write-ahead log copied into the database file in the background.

Statements and commits run on the event loop's thread (shared/sqlite_driver.py). SQLite's
automatic checkpoint runs inside whichever COMMIT takes the log past its threshold, and
there it would stop the whole loop while it copies the pages and syncs the file. So a
service's connections do not checkpoint (`PRAGMA wal_autocheckpoint=0`, set by
`shared.db.Database`); this does, every `CHECKPOINT_EVERY` commits, on a connection and a
thread of its own. PASSIVE: it neither waits for nor blocks readers and writers; pages a
reader still needs wait for the next one.

A log starts over from its beginning only when a writer finds it wholly copied and no
reader on it. Under writes that never pause, a PASSIVE checkpoint never leaves it so
(commits land while it copies), and the file grew without end: 5.5 GB after 70,000 of
notify's events in its soak (docs/bench.md, thirteenth pass). So when a checkpoint finds
the log longer than LOG_LIMIT_PAGES, a RESTART follows: it waits, on its own thread, for
the writer of the moment and for the readers of older pages (short transactions), holding
new writers back meanwhile (they wait on the loop, shared/loop_sessions), copies what is
left, and waits until no reader is on the log, so that the next writer starts it over.
Each connection's `journal_size_limit` then cuts the file back to the limit's length.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import aiosqlite

log = logging.getLogger("knutepunkt.db")

# About SQLite's own threshold (1,000 pages) for the services' small transactions.
CHECKPOINT_EVERY = 200
# A log this long (pages of 4 KB: 16 MB) is started over, whatever the writers are doing.
LOG_LIMIT_PAGES = 4096
PAGE_BYTES = 4096  # SQLite's default page size, which the services keep
# How long the RESTART waits for the writer and the readers of older pages. New writers
# wait for it meanwhile, so it gives up sooner than they would, and the next checkpoint
# tries again.
RESTART_WAIT_MS = 250


def log_limit_bytes() -> int:
    """The length a log file is cut back to when it starts over (each connection's
    `PRAGMA journal_size_limit`)."""
    return LOG_LIMIT_PAGES * PAGE_BYTES


class WalCheckpoints:
    """Counts a process's commits to one SQLite file and checkpoints its log every so often."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: aiosqlite.Connection | None = None
        self._commits = 0
        self._running: asyncio.Task[None] | None = None
        self.done = 0  # checkpoints run to their end
        self.restarted = 0  # RESTART checkpoints run to their end

    def committed(self) -> None:
        """After a commit, in the loop's thread: start a checkpoint when one is due and
        none is under way."""
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY or self._busy():
            return
        self._commits = 0
        self._running = asyncio.get_running_loop().create_task(self._checkpoint())

    def _busy(self) -> bool:
        task = self._running
        # A task of a loop that has ended (tests run several) is no longer under way.
        return task is not None and not task.done() and not task.get_loop().is_closed()

    async def _checkpoint(self) -> None:
        try:
            if self._connection is None:
                connection = aiosqlite.connect(
                    self._path, isolation_level=None, timeout=RESTART_WAIT_MS / 1000
                )
                connection._thread.daemon = True  # as the pool's: never keeps a process alive
                self._connection = await connection
            _, log_pages, _ = await self._run(self._connection, "PASSIVE")
            if log_pages >= LOG_LIMIT_PAGES:
                blocked, _, _ = await self._run(self._connection, "RESTART")
                self.restarted += not blocked
            self.done += 1
        except Exception as exc:  # the log stays correct; the next commits try again
            log.warning("could not checkpoint the SQLite log: %s", type(exc).__name__)
            await self._forget_connection()

    @staticmethod
    async def _run(connection: aiosqlite.Connection, mode: str) -> tuple[int, int, int]:
        """A checkpoint: (1 if a lock kept it from its end, else 0; pages in the log; pages
        copied). The PRAGMA answers with that one row whatever happens."""
        async with connection.execute(f"PRAGMA wal_checkpoint({mode})") as cursor:
            return cast(tuple[int, int, int], await cursor.fetchone())

    async def _forget_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.close()
            except Exception as exc:  # closing a broken connection may fail too
                log.debug("closing the checkpoint connection: %s", type(exc).__name__)

    async def close(self) -> None:
        task, self._running = self._running, None
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            await asyncio.gather(task, return_exceptions=True)
        await self._forget_connection()
