"""Norwegian public holidays, named in Norwegian or English."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from types import MappingProxyType

import holidays as holidays_lib

# The holidays library's names for our two languages (its Norwegian is Bokmål).
_LANGUAGES = {"nb": "no", "en": "en_US"}


@lru_cache(maxsize=256)
def _holidays_of_year(year: int, language: str) -> Mapping[date, str]:
    # include_sundays=False: the library can count every Sunday as a Norwegian "helligdag";
    # weekly closing days come from the opening hours instead.
    table = holidays_lib.country_holidays(
        "NO", years=year, language=_LANGUAGES[language], include_sundays=False
    )
    return MappingProxyType(dict(table.items()))


def norwegian_holidays(year: int, language: str = "nb") -> Mapping[date, str]:
    """Norwegian public holidays of a year (Sundays not included), named in `language`:
    "nb" (Grunnlovsdag) or "en" (Constitution Day)."""
    return _holidays_of_year(year, language if language in _LANGUAGES else "nb")


def load_holidays(today: date) -> None:
    """Look up this year's and next year's holidays in both languages now.

    The holidays library imports its countries on the first lookup (about 0.1 s), and a
    service calls this while it starts so that the first request after a start or a
    deploy does not pay for it."""
    for year in (today.year, today.year + 1):
        for language in _LANGUAGES:
            norwegian_holidays(year, language)
