"""`python -m knutepunkt.devsinks` as the launcher and the compose dev profile run it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib
import httpx

from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "kafe@example.org"
NUMBER = "+4700000000"
TEXT = "Ny bestilling til Café Jasmin."


@asynccontextmanager
async def devsinks(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "knutepunkt.devsinks",
        *args,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def json_when_ok(http: httpx.AsyncClient, url: str) -> Any:
    answer = await http.get(url)
    return answer.json() if answer.status_code == 200 else None


async def test_it_accepts_mail_and_sms_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    args = ("--smtp-port", "0", "--mail-http-port", "0", "--sms-port", "0")
    async with devsinks(*args, "--data-dir", str(tmp_path)) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("devsinks ready "), line
        urls = dict(part.split("=", 1) for part in line.split()[2:])
        assert set(urls) == {"smtp_url", "mail_api_url", "sms_url"}

        async with httpx.AsyncClient(timeout=5) as http:
            for base in (urls["mail_api_url"], urls["sms_url"]):
                await wait_for(
                    lambda base=base: json_when_ok(http, f"{base}/health"),
                    timeout=15,
                    message=f"{base} healthy",
                )

            message = EmailMessage()
            message["From"] = "noreply@example.org"
            message["To"] = EMAIL
            message["Subject"] = "Ny bestilling"
            message.set_content(TEXT)
            smtp = urlsplit(urls["smtp_url"])
            await aiosmtplib.send(message, hostname=smtp.hostname, port=smtp.port)

            sent = await http.post(
                f"{urls['sms_url']}/sms",
                json={"to": NUMBER, "message": TEXT, "reference": "evt-7:cafe:sms"},
            )
            assert sent.status_code == 202

            mails = await wait_for(
                lambda: json_when_ok(http, f"{urls['mail_api_url']}/messages"),
                timeout=10,
                message="one email listed",
            )
            assert [(m["to"], m["subject"]) for m in mails] == [([EMAIL], "Ny bestilling")]
            sms = await json_when_ok(http, f"{urls['sms_url']}/messages")
            assert [(s["id"], s["to"], s["text"]) for s in sms] == [
                (sent.json()["id"], NUMBER, TEXT)
            ]

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
        logs = (await proc.stderr.read()).decode()

    assert "mail received id=1 recipients=1" in logs
    assert "sms received provider=generic" in logs
    assert "ref=evt-7:cafe:sms" in logs
    assert "devsinks stopped" in logs
    for personal in (EMAIL, NUMBER, TEXT):
        assert personal not in logs
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1
    assert NUMBER in (tmp_path / "sms.jsonl").read_text(encoding="utf-8")


async def test_a_taken_port_is_a_clear_error_and_exit_code_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        args = ("--smtp-port", "0", "--mail-http-port", "0", "--sms-port", port)
        async with devsinks(*args) as proc:
            assert proc.stderr is not None
            assert await asyncio.wait_for(proc.wait(), 30) == 1
            logs = (await proc.stderr.read()).decode()
    assert "devsinks cannot listen" in logs
    assert "Traceback" not in logs
