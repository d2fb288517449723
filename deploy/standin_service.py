"""A stand-in for the services' processes, for testing the compose machinery on its own
(`python -m deploy.compose_test --standin-services`). Standard library only: it runs in the
project image, bind-mounted in by the test.

    standin_service.py serve <service>   HTTP on <SERVICE>_PORT: /health/live, /health/ready
                                         (200 when Redis and the database accept TCP), /metrics
    standin_service.py migrate           exit 0 when every *_DATABASE_URL accepts TCP
    standin_service.py sinks             GET /messages -> [] on ports 8025 and 8026
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

DEFAULT_PORTS = {"redis": 6379, "postgresql": 5432}


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORTS.get(scheme, 0)), timeout=2
        ):
            return True
    except OSError:
        return False


def handler_for(routes: dict[str, object]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path)
            if route is None:
                self.send_response(404)
                self.end_headers()
                return
            status, body = route() if callable(route) else (200, route)
            payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def serve(service: str) -> None:
    deps = [os.environ["REDIS_URL"], os.environ[f"{service.upper()}_DATABASE_URL"]]

    def ready() -> tuple[int, object]:
        down = [urlsplit(url).hostname for url in deps if not reachable(url)]
        return (503, {"down": down}) if down else (200, {"status": "ready"})

    routes: dict[str, object] = {
        "/health/live": {"status": "live"},
        "/health/ready": ready,
        "/metrics": f'standin_up{{service="{service}"}} 1\n',
    }
    port = int(os.environ.get(f"{service.upper()}_PORT", "8000"))
    ThreadingHTTPServer(("0.0.0.0", port), handler_for(routes)).serve_forever()


def sinks() -> None:
    servers = [
        ThreadingHTTPServer(("0.0.0.0", port), handler_for({"/messages": []}))
        for port in (8025, 8026)
    ]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


def migrate() -> int:
    urls = [value for key, value in os.environ.items() if key.endswith("_DATABASE_URL")]
    return 0 if urls and all(reachable(url) for url in urls) else 1


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "serve":
        serve(sys.argv[2])
    elif command == "sinks":
        sinks()
    else:
        sys.exit(migrate())
