"""What every service process is made of: the HTTP API, its subscribers, its outbox relay
and its timers on one event loop. Each service's app.py is its composition root and hands a
`ServiceSpec` to `create_app`.

- runtime.py: the declaration (ServiceSpec) and the wired parts (Runtime)
- lifecycle.py: start, supervise and stop
- http.py: health, metrics, correlation ids
- admin.py: ops endpoints for the admin role (outbox republish)
- problems.py: refusals and errors as RFC 9457 problem details
- cli.py: `python -m services.<name> [serve|migrate]`
- serving.py: uvicorn's settings every server of the hub shares (keep-alive, no access log)
"""

from shared.service.cli import run
from shared.service.lifecycle import create_app
from shared.service.runtime import VERSION, Runtime, ServiceSpec, Task, runtime_of

__all__ = ["VERSION", "Runtime", "ServiceSpec", "Task", "create_app", "run", "runtime_of"]
