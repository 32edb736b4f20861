"""Articles as Markdown files: `KEY.md` whose first `# ` heading is the title, the rest the body."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TITLE_MAX = 200
BODY_MAX = 20_000
FILE_MAX = 64 * 1024
FILES_MAX = 10_000


class BadArticle(ValueError):
    """A file that is not an article, explained in one line naming it."""


@dataclass(frozen=True)
class ArticleText:
    key: str
    title: str
    body: str


def parse(name: str, text: str) -> ArticleText:
    """The article in `text`, read from the file `name` (KEY.md)."""
    key = name.removesuffix(".md")
    if not KEY.match(key):
        raise BadArticle(
            f"{name}: the file name must be 1-64 of a-z 0-9 _ - (lower case), then .md"
        )
    lines = text.replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        if line.startswith("# "):
            title = line[2:].strip()
            body = "\n".join(lines[:index] + lines[index + 1 :]).strip()
            break
        if line.strip():
            raise BadArticle(f"{name}: line {index + 1}: the first line must be a '# ' title")
    else:
        raise BadArticle(f"{name}: no '# ' title line")
    if not title:
        raise BadArticle(f"{name}: the title is empty")
    if len(title) > TITLE_MAX:
        raise BadArticle(f"{name}: the title is longer than {TITLE_MAX} characters")
    if not body:
        raise BadArticle(f"{name}: the article has no text below its title")
    if len(body) > BODY_MAX:
        raise BadArticle(f"{name}: the text is longer than {BODY_MAX} characters")
    if "\x00" in text:
        raise BadArticle(f"{name}: contains a NUL character")
    return ArticleText(key, title, body)


def read_folder(folder: str | Path) -> list[ArticleText]:
    """Every `*.md` article of `folder`, all checked before any is used."""
    path = Path(folder)
    if not path.is_dir():
        raise BadArticle(f"{folder}: no such folder")
    files = []
    for entry in path.iterdir():
        if entry.suffix == ".md" and entry.is_file():
            files.append(entry)
            if len(files) > FILES_MAX:
                raise BadArticle(f"{folder}: more than {FILES_MAX} articles")
    if not files:
        raise BadArticle(f"{folder}: no .md files")
    files.sort()
    articles = []
    for file in files:
        if file.stat().st_size > FILE_MAX:
            raise BadArticle(f"{file.name}: larger than {FILE_MAX // 1024} KB")
        try:
            text = file.read_bytes().decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadArticle(f"{file.name}: not UTF-8 (byte {error.start})") from None
        articles.append(parse(file.name, text.removeprefix("\ufeff")))
    return articles


def render(article: ArticleText) -> str:
    return f"# {article.title}\n\n{article.body}\n"


def write_folder(folder: str | Path, articles: list[ArticleText]) -> int:
    """Write each article as KEY.md (replacing a file of that name); how many were written."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for article in articles:
        partial = path / f".{article.key}.md.partial"
        partial.write_text(render(article), encoding="utf-8")
        partial.replace(path / f"{article.key}.md")
    return len(articles)
