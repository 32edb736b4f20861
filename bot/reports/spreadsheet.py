"""CSV that spreadsheets open safely: no text cell is taken for a formula (CSV injection).

OWASP's rule: a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
apostrophe, which spreadsheets show as text and do not run. Numbers stay numbers: only strings
are touched, and a string that is just a number (`-12`, `+3.5`) is left as it is.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO, Any

FORMULA_STARTS = frozenset("=+-@\t\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def safe_cell(value: Any) -> Any:
    """`value` as a CSV cell: None is empty, a string that could start a formula is quoted."""
    if value is None:
        return ""
    if value.__class__ is str and value[:1] in FORMULA_STARTS and _NUMBER.fullmatch(value) is None:
        return "'" + value
    return value


class Writer:
    """csv.writer whose every cell goes through `safe_cell`."""

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out, lineterminator="\n")

    def writerow(self, row: Iterable[Any]) -> None:
        # safe_cell inlined for the common cells (reports write 100,000s of rows): only a
        # string that starts like a formula pays for the call.
        self._writer.writerow(
            [
                ""
                if value is None
                else safe_cell(value)
                if value.__class__ is str and value[:1] in FORMULA_STARTS
                else value
                for value in row
            ]
        )
