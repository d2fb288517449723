"""Norwegian public holidays."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from types import MappingProxyType

import holidays as holidays_lib


@lru_cache(maxsize=256)
def _holidays_of_year(year: int) -> Mapping[date, str]:
    # include_sundays=False: the library can count every Sunday as a Norwegian "helligdag";
    # weekly closing days come from the opening hours instead.
    table = holidays_lib.country_holidays("NO", years=year, language="no", include_sundays=False)
    return MappingProxyType(dict(table.items()))


def norwegian_holidays(year: int) -> Mapping[date, str]:
    """Norwegian public holidays of a year, with their Norwegian names (Sundays not included)."""
    return _holidays_of_year(year)
