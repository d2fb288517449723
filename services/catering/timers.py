"""The catering service's timer: retention (docs/privacy.md). Orders past
CATERING_RETENTION_DAYS lose the customer's name, contacts and note, claimed by an UPDATE
conditioned on the name not being anonymised yet, so two replicas count each order once."""

from __future__ import annotations

from services.catering import usecases
from services.catering.settings import catering_settings
from shared.anonymise import days, in_batches, retention_loop
from shared.service import Runtime


async def anonymise_expired(runtime: Runtime, batch: int = 200) -> int:
    """Every order past its retention, a batch per transaction; how many this replica did."""
    cmd = usecases.AnonymiseExpired(days(catering_settings(runtime).retention_days), batch)
    return await in_batches(runtime, batch, lambda uow: usecases.anonymise_expired(uow, cmd))


async def anonymise_loop(runtime: Runtime) -> None:
    await retention_loop(
        runtime, catering_settings(runtime).retention_poll_seconds, anonymise_expired
    )
