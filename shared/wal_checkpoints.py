"""SQLite's write-ahead log copied into the database file in the background.

Statements and commits run on the event loop's thread (shared/sqlite_driver.py). SQLite's
automatic checkpoint runs inside whichever COMMIT takes the log past its threshold, and
there it would stop the whole loop while it copies the pages and syncs the file. So a
service's connections do not checkpoint (`PRAGMA wal_autocheckpoint=0`, set by
`shared.db.Database`); this does, every `CHECKPOINT_EVERY` commits, on a connection and a
thread of its own. PASSIVE: it neither waits for nor blocks readers and writers; pages a
reader still needs wait for the next one.
"""

from __future__ import annotations

import asyncio
import logging

import aiosqlite

log = logging.getLogger("knutepunkt.db")

# About SQLite's own threshold (1,000 pages) for the services' small transactions.
CHECKPOINT_EVERY = 200


class WalCheckpoints:
    """Counts a process's commits to one SQLite file and checkpoints its log every so often."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: aiosqlite.Connection | None = None
        self._commits = 0
        self._running: asyncio.Task[None] | None = None
        self.done = 0  # checkpoints run to their end

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
                connection = aiosqlite.connect(self._path, isolation_level=None)
                connection._thread.daemon = True  # as the pool's: never keeps a process alive
                self._connection = await connection
            cursor = await self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            await cursor.fetchall()
            await cursor.close()
            self.done += 1
        except Exception as exc:  # the log stays correct; the next commits try again
            log.warning("could not checkpoint the SQLite log: %s", type(exc).__name__)
            await self._forget_connection()

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
