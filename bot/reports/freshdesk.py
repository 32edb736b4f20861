"""Freshdesk's activities-export layout: dates, records, and the tolerance real exports need."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from bot.reports.metrics import STATUSES
from storage.types import MICROSECONDS, from_micros, to_micros

FRESHDESK = "freshdesk"
DATE_LAYOUT = "DD-MM-YYYY HH:MM:SS ±HHMM"
_DATE = re.compile(
    r"^\s*(\d{1,2})\s*-\s*(\d{1,2})\s*-\s*(\d{4})\s+(\d{1,2})\s*:\s*(\d{1,2})\s*:\s*(\d{1,2})"
    r"\s*(?:([+-])\s*(\d{2}):?(\d{2})|(Z|UTC|GMT))?\s*$",
    re.IGNORECASE,
)
_STATUS_BY_KEY = {" ".join(s.lower().split()): s for s in STATUSES}
_STATUS_SET = frozenset(STATUSES)
_PRIORITY_NAMES = {"low": 1, "medium": 2, "high": 3, "urgent": 4}
_TOP_KEYS = ("performer_type", "performer_id", "ticket_id", "performed_at", "activity")
_TOP_KEY_SET = frozenset(_TOP_KEYS)
PERFORMER_TYPE_MAX = 16  # activities.performer_type
_PERFORMER_TYPES = frozenset({"user", "system", "agent", "contact"})  # as they are stored
STATUS_MAX = 64  # ticket_summaries.status
EXTRA = "_record"  # unknown top-level keys of a record, kept inside its activity document


class RecordError(ValueError):
    """A record that does not parse; `field` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


_DAYS: dict[tuple[int, int, int], int] = {}
_EPOCH_ORDINAL = datetime(1970, 1, 1).toordinal()


def _fast_date(text: str) -> int | None:
    """The exact layout `DD-MM-YYYY HH:MM:SS ±HHMM`, without building datetimes (imports)."""
    if len(text) != 25 or text[2] != "-" or text[5] != "-" or text[10] != " " or text[19] != " ":
        return None
    try:
        key = (int(text[6:10]), int(text[3:5]), int(text[0:2]))
        seconds = int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])
        offset = int(text[21:23]) * 3600 + int(text[23:25]) * 60
    except ValueError:
        return None
    sign = text[20]
    if sign not in "+-" or text[13] != ":" or text[16] != ":" or seconds >= 86_400:
        return None
    day = _DAYS.get(key)
    if day is None:
        try:
            day = (datetime(*key).toordinal() - _EPOCH_ORDINAL) * 86_400
        except ValueError:
            return None
        if len(_DAYS) < 100_000:
            _DAYS[key] = day
    offset = offset if sign == "+" else -offset
    return (day + seconds - offset) * MICROSECONDS


def parse_date(text: Any, field: str = "performed_at") -> int:
    """`DD-MM-YYYY HH:MM:SS ±HHMM` (extra spaces allowed; no offset means UTC) -> microseconds."""
    if isinstance(text, str):
        fast = _fast_date(text)
        if fast is not None:
            return fast
    if not isinstance(text, str):
        raise RecordError(field, f"expected a date like {DATE_LAYOUT}, got {text!r}")
    match = _DATE.match(text)
    if not match:
        raise RecordError(field, f"expected a date like {DATE_LAYOUT}, got {text!r}")
    day, month, year, hour, minute, second = (int(g) for g in match.groups()[:6])
    sign, oh, om = match.group(7), match.group(8), match.group(9)
    offset = timedelta(0)
    if sign:
        offset = timedelta(hours=int(oh), minutes=int(om))
        if sign == "-":
            offset = -offset
    try:
        value = datetime(year, month, day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError as exc:
        raise RecordError(field, f"{exc}: {text!r}") from None
    return to_micros(value)


def format_date(micros: int) -> str:
    """The export's date layout, in UTC (`+0000`)."""
    return from_micros(micros - micros % MICROSECONDS).strftime("%d-%m-%Y %H:%M:%S +0000")


def format_iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%d-%m-%Y %H:%M:%S +0000")


def _int(value: Any, field: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool):
        raise RecordError(field, f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = None
            if number is not None and number.is_integer():
                return int(number)
    raise RecordError(field, f"expected an integer, got {value!r}")


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise RecordError(field, f"expected true or false, got {value!r}")


def _normalize_activity(doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    status = out.get("status")
    if status is not None and (type(status) is not str or status not in _STATUS_SET):
        if not isinstance(status, str) or not status.strip():
            raise RecordError("activity.status", f"expected a status name, got {status!r}")
        key = " ".join(status.lower().split())
        out["status"] = _STATUS_BY_KEY.get(key, " ".join(status.split()))
        if len(out["status"]) > STATUS_MAX:  # the summary's column size (PostgreSQL enforces it)
            raise RecordError("activity.status", f"longer than {STATUS_MAX} characters")
    value = out.get("priority")
    if value is not None and not (type(value) is int and 1 <= value <= 4):
        if isinstance(value, str) and value.strip().lower() in _PRIORITY_NAMES:
            priority = _PRIORITY_NAMES[value.strip().lower()]
        else:
            priority = _int(value, "activity.priority")
        if not 1 <= priority <= 4:
            raise RecordError("activity.priority", f"expected 1–4, got {value!r}")
        out["priority"] = priority
    for key in ("requester", "agent_id"):
        value = out.get(key)
        if value is not None and type(value) is not int:
            out[key] = _int(value, f"activity.{key}")
    if out.get("rating") is not None:
        rating = _int(out["rating"], "activity.rating")
        if not 1 <= rating <= 5:
            raise RecordError("activity.rating", f"expected 1–5, got {out['rating']!r}")
        out["rating"] = rating
    if out.get("note") is not None:
        note = out["note"]
        if not isinstance(note, dict):
            raise RecordError("activity.note", f"expected an object, got {note!r}")
        note = dict(note)
        for key in ("id", "type"):
            value = note.get(key)
            if value is not None and type(value) is not int:
                note[key] = _int(value, f"activity.note.{key}")
        if "private" in note:
            note["private"] = _bool(note["private"], "activity.note.private")
        out["note"] = note
    return out


def parse_record(record: Any) -> tuple[int, int, str, int | None, dict[str, Any]]:
    """A record of activities_data -> (ticket_id, performed_at µs, performer_type,
    performer_id, activity document); raises RecordError naming the field."""
    if not isinstance(record, dict):
        raise RecordError("record", f"expected an object, got {type(record).__name__}")
    for key in ("ticket_id", "performed_at", "activity"):
        if record.get(key) is None:
            raise RecordError(key, "missing")
    ticket_id = record["ticket_id"]
    if type(ticket_id) is not int:
        ticket_id = _int(ticket_id, "ticket_id")
    at = parse_date(record["performed_at"])
    performer_type = record.get("performer_type")
    if performer_type is None:
        performer_type = "user"
    # the usual values are already stripped, in lower case and short
    if type(performer_type) is not str or performer_type not in _PERFORMER_TYPES:
        if not isinstance(performer_type, str) or not performer_type.strip():
            raise RecordError("performer_type", f"expected a string, got {performer_type!r}")
        performer_type = performer_type.strip().lower()
        if len(performer_type) > PERFORMER_TYPE_MAX:  # the column's size (PostgreSQL enforces it)
            raise RecordError("performer_type", f"longer than {PERFORMER_TYPE_MAX} characters")
    performer_id = record.get("performer_id")
    if performer_id is not None and type(performer_id) is not int:
        performer_id = _int(performer_id, "performer_id")
    doc = record["activity"]
    if not isinstance(doc, dict):
        raise RecordError("activity", f"expected an object, got {doc!r}")
    activity = _normalize_activity(doc)
    if not record.keys() <= _TOP_KEY_SET:
        activity[EXTRA] = {k: v for k, v in record.items() if k not in _TOP_KEY_SET}
    return ticket_id, at, performer_type, performer_id, activity


# one encoder for every document (json.dumps with options builds a new one per call)
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dumps(doc: Any) -> str:
    return _ENCODER.encode(doc)


def import_key(
    source: str, ticket_id: int, at: int, performer_type: str, performer_id: int | None, doc: str
) -> str:
    """A hash of the record's identity: the same record in any file gets the same key."""
    identity = f"{source}\x1f{ticket_id}\x1f{at}\x1f{performer_type}\x1f{performer_id}\x1f{doc}"
    return hashlib.blake2b(identity.encode(), digest_size=32).hexdigest()


def export_record(
    ticket_id: int, at: int, performer_type: str, performer_id: int | None, activity: dict
) -> dict[str, Any]:
    """A record in the export's layout (unknown top-level keys put back where they were)."""
    doc = dict(activity)
    extra = doc.pop(EXTRA, None) or {}
    record = {
        "performer_type": performer_type,
        "performer_id": performer_id,
        "ticket_id": ticket_id,
        "performed_at": format_date(at),
        "activity": doc,
    }
    for key, value in extra.items():
        record.setdefault(key, value)
    return record
