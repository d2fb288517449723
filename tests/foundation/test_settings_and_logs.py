"""Settings fail clearly on bad input; logs never carry a phone number or an email."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from knutepunkt.cli import _register, app
from knutepunkt.launcher import render_log_line
from shared.observability import configure_logging
from shared.settings import load_settings, parse_staff_tokens
from tests.foundation.hub_process import free_port_range

PHONE, EMAIL = "+47 912 34 567", "kari.nordmann@example.org"


def test_staff_tokens_parse_into_roles() -> None:
    assert parse_staff_tokens(" t1:desk, t2:cafe+booking ,,t3:admin") == {
        "t1": frozenset({"desk"}),
        "t2": frozenset({"cafe", "booking"}),
        "t3": frozenset({"admin"}),
    }
    assert parse_staff_tokens("") == {}


@pytest.mark.parametrize("spec", ["secret-token-without-role", "t1:desk,:cafe", "t1:"])
def test_bad_staff_tokens_are_a_clear_error(spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAFF_TOKENS", spec)
    with pytest.raises(ValidationError) as caught:
        load_settings("booking")
    message = str(caught.value)
    assert "STAFF_TOKENS" in message and "token:role" in message


def test_a_bad_staff_tokens_error_does_not_echo_the_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STAFF_TOKENS", "good-secret:desk,secret-token-without-role")
    with pytest.raises(ValidationError) as caught:
        load_settings("booking")
    assert "secret-token" not in str(caught.value)
    assert "good-secret" not in str(caught.value)


def test_a_bad_port_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOANS_PORT", "eighty")
    with pytest.raises(ValueError, match="LOANS_PORT"):
        load_settings("loans")


def test_a_variable_compose_left_unexpanded_counts_as_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """podman-compose 1.0.3 passes `${NAME:-}` on as it stands: never an issuer or a secret."""
    from services.notify.settings import NotifySettings
    from services.web.settings import WebSettings

    for name in ("OIDC_ISSUER", "MANAGE_LINK_SECRET", "NOTIFY_MANAGE_LINK_SECRET"):
        monkeypatch.setenv(name, "${" + name + ":-}")
    monkeypatch.setenv("SMS_FALLBACK_URL", "${SMS_FALLBACK_URL:-}")
    settings = load_settings("booking")
    assert settings.oidc_issuer == "" and settings.manage_link_secret == ""
    assert NotifySettings().manage_link_secret is None
    assert NotifySettings().sms_fallback_url is None
    monkeypatch.setenv("WEB_CONTACT_EMAIL", "${WEB_CONTACT_EMAIL:-}")
    web = WebSettings(dev_signin=True, dev_tokens="desk:t1", HOST="127.0.0.1")
    assert web.contact_email == ""
    # A value that only holds such characters is the person's own.
    monkeypatch.setenv("MANAGE_LINK_SECRET", "a${B}c-long-enough-secret")
    assert load_settings("booking").manage_link_secret == "a${B}c-long-enough-secret"


def test_launcher_refuses_bad_staff_tokens_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STAFF_TOKENS", "nocolon")
    _register()
    base = free_port_range(7)
    result = CliRunner().invoke(app, ["up", "--port-base", str(base)])
    assert result.exit_code == 2
    assert "STAFF_TOKENS" in result.output and "token:role" in result.output


# -- no personal data in logs ------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level, root.name
    yield
    root.handlers[:], root.level, root.name = saved


def _log_personal_data() -> None:
    log = logging.getLogger("knutepunkt.test")
    log.info("SMS til %s og e-post til %s", PHONE, EMAIL)
    log.warning("kunne ikke sende til 91234567", extra={"recipient": EMAIL})
    try:
        raise ValueError(f"ugyldig mottaker {EMAIL} / {PHONE}")
    except ValueError:
        log.exception("utsending feilet")


def _assert_clean(text: str) -> None:
    for secret in (PHONE, EMAIL, "91234567", "912 34 567", "example.org"):
        assert secret not in text
    assert "[phone]" in text and "[email]" in text


@pytest.mark.usefixtures("restore_logging")
def test_json_logs_are_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json", "booking")
    _log_personal_data()
    err = capsys.readouterr().err
    records = [json.loads(line) for line in err.splitlines()]
    assert [r["level"] for r in records] == ["info", "warning", "error"]
    assert records[0]["message"] == "SMS til [phone] og e-post til [email]"
    assert records[1]["recipient"] == "[email]"
    assert "ValueError" in records[2]["exc"]
    _assert_clean(err)


@pytest.mark.usefixtures("restore_logging")
def test_a_one_click_links_token_never_reaches_a_log(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json", "web")
    token = "approve_booking.b-1.1778227200.ksy4hmmYiB3YoDbsTOyYSr4OttQGQR7dXAG4IrEoypE"
    logging.getLogger("knutepunkt.test").info("GET https://hub.example.org/ansatt/lenke/%s", token)
    err = capsys.readouterr().err
    assert json.loads(err)["message"] == "GET https://hub.example.org/ansatt/lenke/[token]"
    assert "ksy4hm" not in err


@pytest.mark.usefixtures("restore_logging")
def test_text_logs_are_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text", "booking")
    _log_personal_data()
    err = capsys.readouterr().err
    assert "SMS til [phone] og e-post til [email]" in err
    assert "ValueError" in err
    _assert_clean(err)


def test_launcher_shows_service_logs_readably_and_scrubbed() -> None:
    record = {
        "time": "2025-03-30T01:00:00.000+00:00",
        "level": "warning",
        "logger": "booking",
        "message": f"leftover {PHONE}",
        "correlation_id": "abc",
        "exc": f"Traceback ...\nValueError: {EMAIL}",
    }
    shown = render_log_line("booking", json.dumps(record)).plain
    assert shown.startswith("booking  │ ")
    assert "WARNING" in shown and "leftover [phone]" in shown
    assert "ValueError: [email]" in shown
    raw = render_log_line("notify", f"Traceback: bad recipient {EMAIL} {PHONE}").plain
    assert raw == "notify   │ Traceback: bad recipient [email] [phone]"
    _assert_clean(shown + raw)


@pytest.mark.usefixtures("restore_logging")
def test_a_bookers_manage_token_never_reaches_a_log(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json", "web")
    path = "/mine/booking/b-1/ksy4hmmYiB3YoDbsTOyYSr4OttQGQR7dXAG4IrEoypE"
    logging.getLogger("knutepunkt.test").info("GET https://hub.example.org%s/avbestill", path)
    err = capsys.readouterr().err
    message = json.loads(err)["message"]
    assert message == "GET https://hub.example.org/mine/booking/b-1/[token]/avbestill"
    assert "ksy4hm" not in err
    # A borrower's page: the token right after /mine/lan/, with or without more after it.
    for tail in ("", "/reservasjon/7/avbestill"):
        logging.getLogger("knutepunkt.test").info("POST /mine/lan/ksy4hmmYiB3YoDbsTOyYSr4%s", tail)
        message = json.loads(capsys.readouterr().err)["message"]
        assert message == f"POST /mine/lan/[token]{tail}"
    # A recipient's choices (notify's preference token), the same.
    logging.getLogger("knutepunkt.test").info("POST /mine/varsler/%s", "0f" * 16)
    message = json.loads(capsys.readouterr().err)["message"]
    assert message == "POST /mine/varsler/[token]"
