"""A subject that is not ASCII, as the message carries it: RFC 2047 encoded words that
any mail program reads back as the same text, within the lengths the RFCs set."""

from __future__ import annotations

import email
import email.policy
from email.header import decode_header, make_header

import pytest

from services.notify.mail import _wire, build_email, encoded_words

SUBJECTS = [
    "Påminnelse",
    "Bookingen av Møterom 1 ble avslått",
    "Forespørsel om gymsalen fredag 12. mars kl. 18–20: sjekk før du kommer 🙂",
    "Ærlig talt: " + "æøå ÆØÅ " * 40,
    "=?utf-8?q?ikke_et_ord?= _ ? = ½",
    "ø",
]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_a_subject_reads_back_the_same_in_words_and_lines_of_the_allowed_length(
    subject: str,
) -> None:
    encoded = encoded_words(subject)
    assert str(make_header(decode_header(encoded))) == subject
    lines = f"Subject: {encoded}".split("\n")
    assert all(len(line) <= 78 for line in lines), lines
    assert all(len(word) <= 75 and word.isascii() for word in encoded.split())


@pytest.mark.parametrize("subject", SUBJECTS)
def test_the_sent_message_carries_the_subject_and_the_sender(subject: str) -> None:
    message = build_email(
        delivery_id="d-1",
        sender="Knutepunkt Strømsø <post@knutepunkt.example>",
        to="kari@example.org",
        subject=subject,
        text="Hei!",
        html="<p>Hei!</p>",
        ics=None,
        ics_method=None,
        preferences_url=None,
    )
    wire = _wire(message)
    assert all(len(line) <= 78 for line in _header_lines(wire, "Subject"))
    read = email.message_from_bytes(wire, policy=email.policy.default)
    assert read["Subject"] == subject
    assert read["From"].addresses[0].display_name == "Knutepunkt Strømsø"
    assert read["From"].addresses[0].addr_spec == "post@knutepunkt.example"


def _header_lines(wire: bytes, name: str) -> list[str]:
    """The header's lines as sent: its first and the folded ones after it."""
    lines = wire.split(b"\r\n\r\n")[0].decode("ascii").split("\r\n")
    first = next(n for n, line in enumerate(lines) if line.startswith(f"{name}: "))
    taken = [lines[first]]
    for line in lines[first + 1 :]:
        if not line.startswith(" "):
            break
        taken.append(line)
    return taken
