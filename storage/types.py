"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Integer
from sqlalchemy.types import TypeDecorator

# Row ids and the columns that refer to them: BIGINT on PostgreSQL, INTEGER on SQLite (where
# INTEGER is already 64-bit, and only an INTEGER PRIMARY KEY is the rowid). Any number a user
# types (a ticket number, a button's data) then fits the column on both: PostgreSQL's INTEGER
# would refuse one above 2**31 - 1 with an error where SQLite simply finds nothing.
Id = BigInteger().with_variant(Integer(), "sqlite")

MICROSECONDS = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROSECONDS + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // MICROSECONDS, UTC).replace(
        microsecond=value % MICROSECONDS
    )


class Timestamp(TypeDecorator[datetime]):
    """An aware UTC datetime stored as BIGINT microseconds since the epoch.

    Integers make time arithmetic in SQL (differences, window functions, sums) give the
    same answer on SQLite and PostgreSQL: subtracting two columns yields microseconds.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> int | None:
        return None if value is None else to_micros(value)

    def process_result_value(self, value: int | None, dialect: object) -> datetime | None:
        return None if value is None else from_micros(int(value))
