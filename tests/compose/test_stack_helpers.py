"""Small parts of the stack harness that need no container."""

from __future__ import annotations

import socket

from deploy.stack import dotenv, ephemeral_floor, free_port


def test_free_ports_lie_below_the_ephemeral_range_and_are_bindable() -> None:
    ports = {free_port() for _ in range(20)}
    assert all(1024 < port < ephemeral_floor() for port in ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports.pop()))


def test_dotenv_keeps_order_and_values() -> None:
    assert dotenv({"B": "2", "A": "x=y"}) == "B=2\nA=x=y\n"
