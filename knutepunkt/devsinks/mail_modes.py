"""How the mail catcher answers a delivery attempt: normally, or with a chosen failure."""

from __future__ import annotations

from typing import Literal

MailMode = Literal["ok", "tempfail", "permfail"]
FailAt = Literal["rcpt", "data"]

REPLIES: dict[MailMode, str] = {
    "ok": "250 OK",
    "tempfail": "451 4.3.0 Temporary failure, try again later",
    "permfail": "550 5.7.1 Delivery not authorised, message refused",
}
