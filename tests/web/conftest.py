"""The web tests: the hub as real processes and Debian's chromium driven by Playwright, each
started once per module. Without chromium the browser tests skip, saying why."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.hub import WebHub

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebHub]:
    started = WebHub(tmp_path_factory.mktemp("webhub"))
    try:
        started.start()
        yield started
    finally:
        started.stop()


# Per module, not per session: Playwright's sync API keeps an event loop running while it is
# open, and the async tests of other modules need the thread's loop free.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install chromium (bash .ci/run does)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    made = browser.new_context(locale="nb-NO", viewport={"width": 1280, "height": 900})
    # Generous: a CI machine running other suites beside this one can be very slow.
    made.set_default_timeout(60_000)
    yield made
    made.close()


def sign_in(page: Any, hub: WebHub, person: str, start: str = "/ansatt/") -> None:
    """The OIDC flow as a person does it: the desk's sign-in button, the provider's form,
    and back to the page asked for."""
    page.goto(hub.web_url + start)
    page.get_by_role("link", name="Logg inn med kommunens konto").click()
    page.get_by_label(_name_of(person)).check()
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(hub.web_url + start)


def _name_of(person: str) -> str:
    from tests.web.hub import PEOPLE

    return str(PEOPLE[person]["name"])
