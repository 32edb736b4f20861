"""Hostile JSON for import-activities: one line, exit 2, nothing written, seconds, little memory."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import ijson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.reports.importer import MAX_DEPTH, nested_deeper_than
from storage.models import Activity, ActivityImport, TicketSummary
from tests.support import databases
from tests.support.bounded import environment, run_measured

DEEP = 100_000
GOOD = (
    '{"ticket_id": 1, "performed_at": "01-03-2024 10:00:00 +0000", "performer_type": "user",'
    ' "performer_id": 5, "activity": {"status": "Open"}}'
)


def hostile_files() -> dict[str, bytes]:
    return {
        # 200 KB nested 100,000 deep: ijson's paths made this take more than 24 GB
        "deep-array": b'{"activities_data": [' + b"[" * DEEP + b"]" * DEEP + b"]}",
        "deep-object": b'{"metadata": {"x": ' + b'{"a": ' * DEEP + b"1" + b"}" * DEEP + b"}}",
        "deep-unclosed": b'{"activities_data": [' + b"[" * (2 * DEEP),
        "deep-after-good-records": (
            f'{{"activities_data": [{GOOD}, {GOOD}, '.encode() + b"[" * DEEP + b"]" * DEEP + b"]}"
        ),
        "latin-1": f'{{"activities_data": [{GOOD.replace("Open", "Café")}]}}'.encode("latin-1"),
    }


def written(url: str) -> tuple[int, int, int]:
    ((activities, summaries, imports),) = databases.fetch(
        url,
        select(
            select(func.count()).select_from(Activity).scalar_subquery(),
            select(func.count()).select_from(TicketSummary).scalar_subquery(),
            select(func.count()).select_from(ActivityImport).scalar_subquery(),
        ),
    )
    return activities, summaries, imports


@pytest.mark.parametrize("name", list(hostile_files()))
def test_hostile_json_exits_2_in_one_line_fast_and_small(name, db_url, tmp_path) -> None:
    path = tmp_path / f"{name}.json"
    path.write_bytes(hostile_files()[name])

    run = run_measured("import-activities", str(path), env=environment(db_url), cwd=tmp_path)

    assert run.returncode == 2, run.stderr[-2000:]
    [line] = run.stderr.strip().splitlines()
    assert line.startswith(f"{path}: malformed JSON: ")
    expected = "invalid bytes in UTF8" if name == "latin-1" else f"deeper than {MAX_DEPTH}"
    assert expected in line
    assert run.seconds < 10 and run.max_rss_mb < 200, (run.seconds, run.max_rss_mb)
    assert written(db_url) == (0, 0, 0)


def test_nesting_at_the_limit_is_imported(db_url, tmp_path) -> None:
    # file, activities_data, record, activity, note: x starts at depth 6
    inner = "[" * (MAX_DEPTH - 5) + "]" * (MAX_DEPTH - 5)
    record = json.loads(GOOD)
    record["activity"] = {"note": {"id": 1, "type": 1, "x": json.loads(inner)}}
    path = tmp_path / "deep-but-fine.json"
    path.write_text(json.dumps({"activities_data": [record]}))

    run = run_measured("import-activities", str(path), env=environment(db_url), cwd=tmp_path)

    assert run.returncode == 0, run.stderr[-2000:]
    assert written(db_url)[0] == 1


def true_depth(document: bytes) -> int:
    depth = peak = 0
    for event, _ in ijson.basic_parse(io.BytesIO(document)):
        depth += {"start_map": 1, "start_array": 1, "end_map": -1, "end_array": -1}.get(event, 0)
        peak = max(peak, depth)
    return peak


# Strings full of what the scan must not count: brackets, quotes, backslashes, escapes.
tricky_text = st.text(alphabet='[]{}"\\/ab\n\u00e9\u20ac', max_size=12)
documents = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    document=documents,
    ascii_only=st.booleans(),
    chunk_size=st.sampled_from([1, 2, 3, 5, 8, 64, 1 << 20]),
)
def test_depth_scan_never_says_less_than_the_parser(document, ascii_only, chunk_size) -> None:
    raw = json.dumps(document, ensure_ascii=ascii_only).encode()
    depth = true_depth(raw)
    if depth > 0:
        assert nested_deeper_than(io.BytesIO(raw), depth - 1, chunk_size)
    assert not nested_deeper_than(io.BytesIO(raw), depth, chunk_size)


def test_depth_scan_reads_a_large_export_quickly(tmp_path: Path) -> None:
    path = tmp_path / "large.json"
    record = GOOD.replace('"Open"}', '"Open", "note": {"body": "a [quoted] \\"}\\" {x}"}}')
    path.write_text('{"activities_data": [' + ",\n".join([record] * 100_000) + "]}")
    started = time.perf_counter()
    with path.open("rb") as f:
        assert not nested_deeper_than(f, 5)  # file, activities_data, record, activity, note
    assert time.perf_counter() - started < 1.0
    with path.open("rb") as f:
        assert nested_deeper_than(f, 4)
