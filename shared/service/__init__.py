"""What every service process is made of: the HTTP API, its subscribers, its outbox relay
and its timers on one event loop. Each service's app.py is its composition root and hands a
`ServiceSpec` to `create_app`.

- runtime.py: the declaration (ServiceSpec) and the wired parts (Runtime)
- lifecycle.py: start, supervise and stop
- http.py: health, metrics, correlation ids
- admin.py: ops endpoints for the admin role (outbox republish)
- problems.py: refusals and errors as RFC 9457 problem details
- cli.py: `python -m services.<name> [serve|migrate]`
"""

from shared.service.cli import run
from shared.service.lifecycle import create_app
from shared.service.runtime import VERSION, Runtime, ServiceSpec, Task, runtime_of

__all__ = ["VERSION", "Runtime", "ServiceSpec", "Task", "create_app", "run", "runtime_of"]


# Transitional: the services' old refusal with an HTTP status, rendered as problem details.
# Removed once every service raises shared.errors refusals (the shape test checks it).
from typing import Any as _Any

from shared.errors import Busy as _Busy
from shared.errors import Kind as _Kind
from shared.errors import Refusal as _Refusal

_KINDS = {
    401: _Kind.NOT_AUTHENTICATED,
    403: _Kind.NOT_ALLOWED,
    404: _Kind.NOT_FOUND,
    409: _Kind.CONFLICT,
    422: _Kind.REFUSED,
    503: _Kind.BUSY,
}


class ApiError(_Busy):
    def __init__(self, status: int, message: str, **extra: _Any) -> None:
        _Refusal.__init__(self, message, code=extra.pop("code", None), **extra)
        self.kind = _KINDS[status]
        self.code = self.code if self.code != "busy" else self.kind.value
        self.retry_after = 1
        self.status = status
