"""The sinks' listening socket: accepted connections must get TCP_NODELAY from asyncio.

Without it a keep-alive client waits on Nagle plus its own delayed ACK (~40 ms) for every
response uvicorn writes in two pieces (headers, then body): about 20 requests/s.
"""

from __future__ import annotations

import asyncio
import socket

from knutepunkt.devsinks.http_server import bind_socket


class _RecordNoDelay(asyncio.Protocol):
    def __init__(self, seen: asyncio.Future[int]) -> None:
        self._seen = seen

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if not self._seen.done():
            self._seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        transport.close()


async def test_accepted_connections_have_tcp_nodelay() -> None:
    loop = asyncio.get_running_loop()
    seen: asyncio.Future[int] = loop.create_future()
    listener = bind_socket("127.0.0.1", 0)
    server = await loop.create_server(lambda: _RecordNoDelay(seen), sock=listener)
    try:
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            assert await asyncio.wait_for(seen, timeout=5) != 0
        finally:
            writer.close()
    finally:
        server.close()
        await server.wait_closed()
