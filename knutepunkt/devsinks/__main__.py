"""Run the mail catcher and the SMS sink as one process, until SIGTERM or SIGINT.

    python -m knutepunkt.devsinks --smtp-port 1025 --mail-http-port 8025 --sms-port 8026 \\
        --data-dir var/sinks

Once listening it prints one line to stdout that a launcher can read (port 0 picks a free
port, and the line tells which):

    devsinks ready smtp_url=smtp://127.0.0.1:1025 mail_api_url=http://127.0.0.1:8025 \\
        sms_url=http://127.0.0.1:8026
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from knutepunkt.devsinks.mail import MailCatcher
from knutepunkt.devsinks.sms import REPORT_STATUSES, SmsSink

logger = logging.getLogger("knutepunkt.devsinks")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m knutepunkt.devsinks",
        description="Local mail catcher (SMTP + HTTP read API) and SMS gateway sink.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (all three)")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--mail-http-port", type=int, default=8025)
    parser.add_argument("--sms-port", type=int, default=8026)
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep mail as <dir>/mail/*.eml and SMS as <dir>/sms.jsonl (default: memory only)",
    )
    parser.add_argument(
        "--sms-report-url", help="where to POST delivery reports (default: none sent on its own)"
    )
    parser.add_argument(
        "--sms-auto-report",
        choices=(*REPORT_STATUSES, "none"),
        default="delivered",
        help="report sent for every accepted SMS when --sms-report-url is set",
    )
    parser.add_argument(
        "--sms-report-delay",
        type=float,
        default=1.0,
        help="seconds between accepting an SMS and reporting on it",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    data_dir: Path | None = args.data_dir
    auto_report = (
        None
        if args.sms_auto_report == "none" or not args.sms_report_url
        else (args.sms_auto_report)
    )
    mail = MailCatcher(
        args.host,
        args.smtp_port,
        folder=data_dir / "mail" if data_dir else None,
        http_port=args.mail_http_port,
    )
    sms = SmsSink(
        args.host,
        args.sms_port,
        log_file=data_dir / "sms.jsonl" if data_dir else None,
        report_url=args.sms_report_url,
        auto_report=auto_report,
        report_delay=args.sms_report_delay,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await mail.start()
        await sms.start()
    except OSError as error:
        logger.error("devsinks cannot listen: %s", error)
        await sms.stop()
        await mail.stop()
        return 1
    print(
        f"devsinks ready smtp_url={mail.url} mail_api_url={mail.http_url} sms_url={sms.url}",
        flush=True,
    )
    await stop.wait()
    logger.info("devsinks stopping")
    await asyncio.gather(sms.stop(), mail.stop())
    logger.info("devsinks stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # uvicorn's start/stop chatter adds nothing here; its warnings and errors still show.
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
