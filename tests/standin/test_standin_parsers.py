"""Telegram's HTML and Markdown parse modes as the stand-in implements them."""

import pytest

from bot.standin.errors import ApiError
from bot.standin.parse_html import parse_html
from bot.standin.parse_markdown import parse_markdown, parse_markdown_v2


def test_html_tags_and_entities_become_plain_text_and_entities():
    text, entities = parse_html(
        '<b>Ticket</b> &lt;#1&gt; <a href="https://x.org/?a=1&amp;b=2">link</a> '
        '<pre><code class="language-python">x = 1</code></pre> <tg-spoiler>s</tg-spoiler> '
        "<blockquote expandable>q</blockquote> &#128512;<i>é</i>"
    )
    assert text == "Ticket <#1> link x = 1 s q 😀é"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 6},
        {"type": "text_link", "offset": 12, "length": 4, "url": "https://x.org/?a=1&b=2"},
        {"type": "pre", "offset": 17, "length": 5, "language": "python"},
        {"type": "spoiler", "offset": 23, "length": 1},
        {"type": "expandable_blockquote", "offset": 25, "length": 1},
        {"type": "italic", "offset": 29, "length": 1},  # the emoji counts 2 UTF-16 units
    ]


def test_nested_html_sorted_outer_first():
    text, entities = parse_html("<b>a <i>b</i></b>")
    assert text == "a b"
    assert [e["type"] for e in entities] == ["bold", "italic"]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_html_errors_use_telegram_texts(source, reason):
    with pytest.raises(ApiError) as info:
        parse_html(source)
    assert info.value.status == 400
    assert info.value.description == f"Bad Request: can't parse entities: {reason}"


def test_bare_ampersand_refused_when_strict_and_kept_otherwise():
    with pytest.raises(ApiError, match="can't parse entities"):
        parse_html("Tom & Jerry")
    assert parse_html("Tom & Jerry", strict_ampersand=False) == ("Tom & Jerry", [])


def test_markdown_v2_entities_and_escapes():
    text, entities = parse_markdown_v2(
        "*bold* _it_ __u__ ~s~ ||sp|| `co.de` [link](https://x.org/a\\)b) 1\\.5 ```py\nx=1```"
    )
    assert text == "bold it u s sp co.de link 1.5 x=1"
    kinds = [(e["type"], e["offset"], e["length"]) for e in entities]
    assert kinds == [
        ("bold", 0, 4),
        ("italic", 5, 2),
        ("underline", 8, 1),
        ("strikethrough", 10, 1),
        ("spoiler", 12, 2),
        ("code", 15, 5),
        ("text_link", 21, 4),
        ("pre", 30, 3),
    ]
    assert entities[6]["url"] == "https://x.org/a)b"
    assert entities[7]["language"] == "py"


@pytest.mark.parametrize("char", list(".!-=+#(){}>|"))
def test_markdown_v2_unescaped_reserved_characters_refused(char):
    with pytest.raises(ApiError) as info:
        parse_markdown_v2(f"a {char} b" if char != ">" else f"a {char}")
    assert info.value.description == (
        f"Bad Request: can't parse entities: Character '{char}' is reserved and must be escaped "
        "with the preceding '\\'"
    )


def test_markdown_v2_unclosed_entity():
    with pytest.raises(ApiError, match="Can't find end of Bold entity at byte offset 2"):
        parse_markdown_v2("a *b")


def test_legacy_markdown():
    assert parse_markdown("*b* _i_ `c` [t](https://x.org)") == (
        "b i c t",
        [
            {"type": "bold", "offset": 0, "length": 1},
            {"type": "italic", "offset": 2, "length": 1},
            {"type": "code", "offset": 4, "length": 1},
            {"type": "text_link", "offset": 6, "length": 1, "url": "https://x.org"},
        ],
    )
    with pytest.raises(ApiError, match="Can't find end of the entity starting at byte offset 0"):
        parse_markdown("*open")
