"""Carrying the host's pip settings into image builds."""

from __future__ import annotations

from pathlib import Path

from deploy.host_pip import effective_settings, local_paths, parse_config_list

CONFIG_LIST = """\
global.cert='/etc/ssl/certs/ca.crt'
global.extra-index-url='file:///srv/idx/simple https://mirror.example.org/simple'
global.user='true'
install.prefer-binary='true'
:env:.cert='/etc/env-ca.crt'
:env:.default-timeout='180'
"""


def test_config_list_lines_are_parsed() -> None:
    items = parse_config_list(CONFIG_LIST + "garbage line\n")
    assert ("global", "cert", "/etc/ssl/certs/ca.crt") in items
    assert (":env:", "default-timeout", "180") in items
    assert len(items) == 6


def test_environment_overrides_config_files_and_install_location_stays_out() -> None:
    settings = effective_settings(parse_config_list(CONFIG_LIST), environ={})
    assert settings["cert"] == "/etc/env-ca.crt"
    assert settings["prefer-binary"] == "true"
    assert settings["extra-index-url"].startswith("file:///srv/idx/simple")
    assert "user" not in settings


def test_a_ca_bundle_from_the_environment_stands_in_for_cert(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = effective_settings([], environ={"SSL_CERT_FILE": str(bundle)})
    assert settings == {"cert": str(bundle)}
    assert effective_settings([], environ={"SSL_CERT_FILE": str(tmp_path / "none")}) == {}


def test_local_files_and_index_folders_are_mounted_once(tmp_path: Path) -> None:
    index = tmp_path / "pypi"
    (index / "simple").mkdir(parents=True)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    inside = wheels / "extra"
    inside.mkdir()
    cert = tmp_path / "ca.crt"
    cert.write_text("")
    settings = {
        "extra-index-url": f"file://{index}/simple https://mirror.example.org/simple",
        "find-links": f"{wheels} {inside} {tmp_path / 'missing'}",
        "cert": str(cert),
    }
    # The index's parent, since simple/ links to ../files; nested and missing paths dropped.
    assert set(local_paths(settings)) == {index, wheels, cert}
