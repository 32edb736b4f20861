"""`python bot.py kb ...`: import, re-import, bad files, list, export, search."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import cli
from storage.models import KbArticle
from tests.support import databases
from tests.support.process import ROOT

EXAMPLES = ROOT / "examples" / "kb"


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = databases.database_url(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("KB_SUGGESTIONS", raising=False)
    return url


def articles(url: str) -> dict:
    """The stored rows of the articles, by key."""
    return {row.key: row for row in databases.fetch(url, select(KbArticle.__table__))}


def kb(*argv: str) -> int:
    return cli.main(["kb", *argv])


def test_import_then_reimport_updates_changed_articles_only(db_url, tmp_path, capsys) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(EXAMPLES, folder)
    assert kb("import", str(folder)) == 0
    assert "10 new, 0 updated, 0 unchanged" in capsys.readouterr().out
    before = articles(db_url)
    assert len(before) == 10 and all(len(a.embedding) == 2 * 384 * 4 for a in before.values())
    assert {a.embedding_model for a in before.values()} == {"all-MiniLM-L6-v2-int8"}

    changed = folder / "promo-code.md"
    changed.write_text(changed.read_text().replace("case sensitive", "not case sensitive"))
    (folder / "return-item.md").unlink()  # removed from the folder: stays in the database
    (folder / "new-one.md").write_text("# A new article\n\nAbout gift wrapping.\n")
    assert kb("import", str(folder)) == 0
    assert "1 new, 1 updated, 8 unchanged" in capsys.readouterr().out
    after = articles(db_url)
    assert set(after) == set(before) | {"new-one"}
    assert "not case sensitive" in after["promo-code"].body
    assert after["promo-code"].embedding != before["promo-code"].embedding
    assert after["promo-code"].content_hash != before["promo-code"].content_hash
    for key in set(before) - {"promo-code"}:  # not recomputed, not touched
        assert after[key].embedding == before[key].embedding
        assert after[key].updated_at == before[key].updated_at


BAD = {
    "no-title.md": (b"Just text, no heading\n", "no-title.md: line 1: the first line must be"),
    "empty.md": (b"", "empty.md: no '# ' title line"),
    "no-body.md": (b"# Title only\n", "no-body.md: the article has no text below its title"),
    "latin1.md": ("# Caf\u00e9\n\ntext\n".encode("latin-1"), "latin1.md: not UTF-8"),
    "Bad Name.md": (b"# Title\n\ntext\n", "Bad Name.md: the file name must be"),
    "long.md": (b"# " + b"t" * 201 + b"\n\ntext\n", "long.md: the title is longer than 200"),
    "huge.md": (b"# Huge\n\n" + b"word " * 20_000, "huge.md: larger than 64 KB"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_file_is_one_line_exit_2_and_nothing_imported(db_url, tmp_path, capsys, name) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(EXAMPLES, folder)
    content, message = BAD[name]
    (folder / name).write_bytes(content)
    assert kb("import", str(folder)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(message), err
    assert articles(db_url) == {}  # the good files were not imported either


def test_missing_or_empty_folder_is_refused(db_url, tmp_path, capsys) -> None:
    assert kb("import", str(tmp_path / "nope")) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'nope'}: no such folder\n"
    (tmp_path / "empty").mkdir()
    assert kb("import", str(tmp_path / "empty")) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'empty'}: no .md files\n"


def test_list_export_and_search(db_url, tmp_path, capsys) -> None:
    assert kb("list") == 0
    assert "no articles" in capsys.readouterr().out
    assert kb("import", str(EXAMPLES)) == 0
    capsys.readouterr()
    assert kb("list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["key", "shown", "solved", "title"] and len(listing) == 11
    assert any(line.split()[:3] == ["reset-password", "0", "0"] for line in listing)

    assert kb("export", str(tmp_path / "out")) == 0
    assert capsys.readouterr().out == f"exported 10 articles to {tmp_path / 'out'}\n"
    for source in EXAMPLES.glob("*.md"):
        assert (tmp_path / "out" / source.name).read_text() == source.read_text()

    assert kb("search", "I forgot my password") == 0
    found = capsys.readouterr().out.splitlines()
    assert found[0].split()[1] == "reset-password" and "semantic" in found[0]
    assert kb("search", 'what is the weather "NEAR(" *') == 0
    assert "nothing matches well enough" in capsys.readouterr().out


def test_search_says_when_kb_suggestions_is_off(db_url, capsys, monkeypatch) -> None:
    assert kb("import", str(EXAMPLES)) == 0
    monkeypatch.setenv("KB_SUGGESTIONS", "0")
    capsys.readouterr()
    assert kb("search", "I forgot my password") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("KB_SUGGESTIONS is 0, so /new offers nothing")
    assert "reset-password" in out[1]
