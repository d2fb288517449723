"""The request and response shapes of the SMS gateways the notify service can talk to.

`SMS_PROVIDER` picks one: "generic" (a plain JSON API), "linkmobility" (LINK Mobility's
`/sms/send`) or "sveve" (Sveve's `/SMS/SendMessage`). The sink checks the shape strictly
(missing fields, malformed numbers, missing credentials are refused the way the real gateway
refuses them) but accepts any credential values unless told which to expect.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from xml.sax.saxutils import escape

Provider = Literal["generic", "linkmobility", "sveve"]
PROVIDERS: tuple[Provider, ...] = ("generic", "linkmobility", "sveve")

_E164 = re.compile(r"\+[1-9]\d{7,14}")
# Sveve takes Norwegian numbers bare (8 digits) as well as with +47 or 0047.
_SVEVE_NUMBER = re.compile(r"(\+|00)?\d{8,15}")


@dataclass(frozen=True)
class SinkAuth:
    """Credentials the sink insists on; None in a field means any value is accepted."""

    username: str | None = None
    password: str | None = None
    token: str | None = None


@dataclass(frozen=True)
class SmsRequest:
    to: str
    sender: str | None
    text: str
    reference: str | None
    callback_url: str | None = None


class Refused(Exception):
    """The gateway's answer to a request it will not send."""

    def __init__(self, status: int, body: dict[str, Any], reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.body = body
        self.reason = reason


Refuser = Callable[[str], Refused]


def _json_object(body: bytes, refuse: Refuser) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise refuse("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise refuse("body must be a JSON object")
    return data


def _text_field(data: dict[str, Any], name: str, refuse: Refuser, *, required: bool) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise refuse(f"missing field: {name}")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise refuse(f"field {name} must be a string")
    return str(value)


# -- generic -------------------------------------------------------------------------------


def _generic_refusal(status: int = 400) -> Refuser:
    def refuse(reason: str) -> Refused:
        return Refused(status, {"error": reason}, reason)

    return refuse


def parse_generic(body: bytes, authorization: str | None, auth: SinkAuth | None) -> SmsRequest:
    if auth is not None and auth.token is not None and authorization != f"Bearer {auth.token}":
        raise _generic_refusal(401)("missing or wrong bearer token")
    refuse = _generic_refusal()
    data = _json_object(body, refuse)
    to = _text_field(data, "to", refuse, required=True)
    assert to is not None
    if not _E164.fullmatch(to):
        raise refuse("field to must be an E.164 number like +4790000000")
    message = _text_field(data, "message", refuse, required=True)
    assert message is not None
    return SmsRequest(
        to=to,
        sender=_text_field(data, "from", refuse, required=False),
        text=message,
        reference=_text_field(data, "reference", refuse, required=False),
        callback_url=_text_field(data, "callback_url", refuse, required=False),
    )


def generic_accepted(gateway_id: str) -> tuple[int, dict[str, Any]]:
    return 202, {"id": gateway_id}


def generic_fault(status: int, message: str | None = None) -> dict[str, Any]:
    return {"error": message or f"gateway answered {status} (injected fault)"}


# -- LINK Mobility -------------------------------------------------------------------------

_LINK_REQUIRED = ("source", "destination", "userData", "platformId", "platformPartnerId")


def _link_refusal(status: int = 400, result_code: int = 2104) -> Refuser:
    def refuse(reason: str) -> Refused:
        return Refused(status, {"resultCode": result_code, "description": reason}, reason)

    return refuse


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


def _credentials_ok(username: str, password: str, auth: SinkAuth | None) -> bool:
    if not username or not password:
        return False
    if auth is None:
        return True
    return (auth.username is None or auth.username == username) and (
        auth.password is None or auth.password == password
    )


def parse_linkmobility(body: bytes, authorization: str | None, auth: SinkAuth | None) -> SmsRequest:
    credentials = _basic_credentials(authorization)
    if credentials is None or not _credentials_ok(*credentials, auth):
        raise _link_refusal(401, 1001)("missing or wrong Basic credentials")
    refuse = _link_refusal()
    data = _json_object(body, refuse)
    fields = {name: _text_field(data, name, refuse, required=True) for name in _LINK_REQUIRED}
    destination = fields["destination"]
    assert destination is not None
    if not _E164.fullmatch(destination):
        raise refuse("destination must be an MSISDN like +4790000000")
    gates = data.get("deliveryReportGates")
    if gates is not None and not (
        isinstance(gates, list) and all(isinstance(g, str) for g in gates)
    ):
        raise refuse("deliveryReportGates must be a list of strings")
    text = fields["userData"]
    assert text is not None
    return SmsRequest(
        to=destination,
        sender=fields["source"],
        text=text,
        reference=_text_field(data, "refId", refuse, required=False),
    )


def linkmobility_accepted(gateway_id: str) -> tuple[int, dict[str, Any]]:
    return 200, {"messageId": gateway_id, "resultCode": 1005, "description": "Queued"}


def linkmobility_fault(status: int, message: str | None = None) -> dict[str, Any]:
    return {
        "resultCode": 1002,
        "description": message or f"gateway answered {status} (injected fault)",
    }


# -- Sveve ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SveveRequest:
    """One Sveve call: `to` may list several numbers, each sent as its own SMS."""

    messages: tuple[SmsRequest, ...]
    bad_numbers: tuple[str, ...]
    as_json: bool


def sveve_body(
    *,
    ok_count: int,
    sms_count: int,
    ids: list[int] | None = None,
    fatal_error: str | None = None,
    bad_numbers: tuple[str, ...] = (),
) -> dict[str, Any]:
    response: dict[str, Any] = {"msgOkCount": ok_count, "stdSMSCount": sms_count}
    if ids is not None:
        response["ids"] = ids
    if fatal_error is not None:
        response["fatalError"] = fatal_error
    if bad_numbers:
        response["errors"] = [
            {"number": number, "message": "Ugyldig telefonnummer"} for number in bad_numbers
        ]
    return {"response": response}


def sveve_xml(body: dict[str, Any]) -> str:
    """Sveve answers in XML unless asked for JSON with f=json."""
    response = body["response"]
    parts = [f"<msgOkCount>{response['msgOkCount']}</msgOkCount>"]
    parts.append(f"<stdSMSCount>{response['stdSMSCount']}</stdSMSCount>")
    if "ids" in response:
        parts.append("<ids>" + "".join(f"<id>{i}</id>" for i in response["ids"]) + "</ids>")
    if "fatalError" in response:
        parts.append(f"<fatalError>{escape(response['fatalError'])}</fatalError>")
    for error in response.get("errors", []):
        parts.append(
            f"<errors><number>{escape(error['number'])}</number>"
            f"<message>{escape(error['message'])}</message></errors>"
        )
    return "<response>" + "".join(parts) + "</response>"


def _sveve_refusal() -> Refuser:
    # Sveve reports a refused request inside a 200 response, not with an HTTP error status.
    def refuse(reason: str) -> Refused:
        return Refused(200, sveve_body(ok_count=0, sms_count=0, fatal_error=reason), reason)

    return refuse


def parse_sveve(params: dict[str, str], auth: SinkAuth | None) -> SveveRequest:
    as_json = params.get("f", "").lower() == "json"
    refuse = _sveve_refusal()
    if not _credentials_ok(params.get("user", ""), params.get("passwd", ""), auth):
        raise refuse("Feil brukernavn/passord")
    numbers = [n.strip() for n in params.get("to", "").split(",") if n.strip()]
    if not numbers:
        raise refuse("Mangler mottaker (to)")
    text = params.get("msg", "")
    if not text:
        raise refuse("Mangler meldingstekst (msg)")
    good = [n for n in numbers if _SVEVE_NUMBER.fullmatch(n)]
    bad = tuple(n for n in numbers if not _SVEVE_NUMBER.fullmatch(n))
    sender = params.get("from") or None
    reference = params.get("ref") or None
    messages = tuple(SmsRequest(to=n, sender=sender, text=text, reference=reference) for n in good)
    return SveveRequest(messages=messages, bad_numbers=bad, as_json=as_json)


def sveve_fault(status: int) -> dict[str, Any]:
    return sveve_body(ok_count=0, sms_count=0, fatal_error=f"Gateway svarte {status}")
