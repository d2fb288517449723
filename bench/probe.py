"""What a bench counts beside its ratio, in the process it runs in: SQL statements (every
engine's `before_cursor_execute`, an executemany counting once: one round trip), Redis
commands and round trips (redis-py's asyncio connections), CPU seconds (user + system, all
threads: aiosqlite's included) and the peak RSS.

    probe = Probe.install()       # once per process, before the work
    before = probe.snapshot()
    ...                           # the measured work
    spent = probe.snapshot() - before
    print(spent.per(n, "request"))

A bench whose work runs in several processes installs one in each and sends its `Counts`
back (they pickle). `Probe.install(keep_sql=True)` also keeps each statement's text and
the time from its send to its answer (the DBAPI cursor's execute), so that `Counts.top()`
can say which statements a request sends and what each costs in the database. On SQLite
that time is SQLite's own work: a statement runs whole on the loop's thread
(shared/sqlite_driver.py) unless it waits for another process's lock. On PostgreSQL it is
the round trip, and includes whatever else the loop ran while the answer was on its way.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Counts:
    statements: int = 0
    redis_commands: int = 0
    redis_round_trips: int = 0
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    sql: Counter[str] = field(default_factory=Counter)
    # Per statement text, the seconds from send to answer (kept with `sql`).
    sql_seconds: Counter[str] = field(default_factory=Counter)

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            statements=self.statements - other.statements,
            redis_commands=self.redis_commands - other.redis_commands,
            redis_round_trips=self.redis_round_trips - other.redis_round_trips,
            cpu_seconds=self.cpu_seconds - other.cpu_seconds,
            # A peak is a peak: the process's, up to the later snapshot.
            peak_rss_mb=self.peak_rss_mb,
            sql=self.sql - other.sql,
            sql_seconds=_minus(self.sql_seconds, other.sql_seconds),
        )

    def __add__(self, other: Counts) -> Counts:
        """Two stretches of work together (a bench's turns summed)."""
        return Counts(
            statements=self.statements + other.statements,
            redis_commands=self.redis_commands + other.redis_commands,
            redis_round_trips=self.redis_round_trips + other.redis_round_trips,
            cpu_seconds=self.cpu_seconds + other.cpu_seconds,
            peak_rss_mb=max(self.peak_rss_mb, other.peak_rss_mb),
            sql=self.sql + other.sql,
            sql_seconds=self.sql_seconds + other.sql_seconds,
        )

    def per(self, n: int, unit: str = "request") -> str:
        """One line: statements, Redis commands and CPU per unit, and the peak RSS."""
        return (
            f"{self.statements / n:6.2f} SQL statements/{unit}, "
            f"{self.redis_commands / n:6.3f} Redis commands/{unit} "
            f"({self.redis_round_trips / n:.3f} round trips), "
            f"CPU {self.cpu_seconds / n * 1e6:7.0f} µs/{unit}, "
            f"peak RSS {self.peak_rss_mb:5.0f} MB"
        )

    def top(self, n: int, per: int, limit: int = 12) -> list[str]:
        """The most sent statements, as `count per unit  µs each  text` lines, and last the
        time all statements took until answered, per unit."""
        lines = [
            f"{count / per:7.2f}  {self.sql_seconds[text] / count * 1e6:7.1f} µs  {text}"
            for text, count in self.sql.most_common(limit)
        ][:n]
        answered = sum(self.sql_seconds.values()) / per * 1e6
        return [*lines, f"  until answered, all statements: {answered:7.0f} µs per unit"]


def _minus(later: Counter[str], earlier: Counter[str]) -> Counter[str]:
    # Counter's own subtraction drops what is not positive; times only grow, but a float
    # difference of zero would lose its statement's line.
    return Counter({key: later[key] - earlier.get(key, 0.0) for key in later})


def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (1–99) of values, in their own unit."""
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def current_rss_mb() -> float:
    """The process's resident memory now (Linux's /proc; elsewhere its peak so far)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Probe:
    _installed: Probe | None = None

    def __init__(self, keep_sql: bool) -> None:
        self.keep_sql = keep_sql
        self.statements = 0
        self.redis_commands = 0
        self.redis_round_trips = 0
        self.sql: Counter[str] = Counter()
        self.sql_seconds: Counter[str] = Counter()

    @classmethod
    def install(cls, *, keep_sql: bool = False) -> Probe:
        if cls._installed is not None:
            cls._installed.keep_sql = cls._installed.keep_sql or keep_sql
            return cls._installed
        probe = cls(keep_sql)
        probe._hook_sql()
        probe._hook_redis()
        cls._installed = probe
        return probe

    def _hook_sql(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        def counted(
            _conn: Any, _cursor: Any, statement: str, _params: Any, ctx: Any, many: bool
        ) -> None:
            self.statements += 1
            if self.keep_sql and ctx is not None:
                text = " ".join(statement.split())[:110]
                ctx._probe_sql = ("(many) " if many else "") + text
                ctx._probe_sent = time.perf_counter()

        def answered(
            _conn: Any, _cursor: Any, _statement: str, _params: Any, ctx: Any, _many: bool
        ) -> None:
            # A statement that failed is not counted in `sql`: its time would be no cost
            # of the work measured.
            text = getattr(ctx, "_probe_sql", None)
            if text is not None:
                self.sql[text] += 1
                self.sql_seconds[text] += time.perf_counter() - ctx._probe_sent

        # On the class: every engine of the process, made before or after this.
        event.listen(Engine, "before_cursor_execute", counted)
        event.listen(Engine, "after_cursor_execute", answered)

    def _hook_redis(self) -> None:
        from redis.asyncio.connection import AbstractConnection

        pack = AbstractConnection.pack_command
        send = AbstractConnection.send_packed_command
        probe = self

        def pack_command(conn: Any, *args: Any) -> Any:
            probe.redis_commands += 1
            return pack(conn, *args)

        async def send_packed_command(conn: Any, *args: Any, **kwargs: Any) -> None:
            probe.redis_round_trips += 1
            await send(conn, *args, **kwargs)

        AbstractConnection.pack_command = pack_command  # type: ignore[method-assign]
        AbstractConnection.send_packed_command = send_packed_command  # type: ignore[method-assign]

    def snapshot(self) -> Counts:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return Counts(
            statements=self.statements,
            redis_commands=self.redis_commands,
            redis_round_trips=self.redis_round_trips,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            peak_rss_mb=usage.ru_maxrss / 1024,  # kB on Linux
            sql=Counter(self.sql),
            sql_seconds=Counter(self.sql_seconds),
        )
