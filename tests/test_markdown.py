"""Update bodies: CommonMark without raw HTML, then sanitized (status.markdown)."""

from __future__ import annotations

import pytest

from status.markdown import render, sanitize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**bold** and *em*", "<p><strong>bold</strong> and <em>em</em></p>\n"),
        (
            "[docs](https://example.com/a?b=1&c=2)",
            '<p><a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener">docs</a></p>\n',
        ),
        ("<https://example.com>", '<p><a href="https://example.com" rel="nofollow noopener">'),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"),
        ("```\n<b>code</b>\n```", "<pre><code>&lt;b&gt;code&lt;/b&gt;\n</code></pre>\n"),
        # Raw HTML is text, not markup: shown, never run.
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"),
        ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n"),
        # A javascript: link is not a link at all.
        ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>\n"),
        # Images become links: the page loads nothing from other origins.
        (
            '![the graph](https://example.com/g.png "title")',
            '<p><a href="https://example.com/g.png" rel="nofollow noopener">the graph</a></p>\n',
        ),
        ("", ""),
    ],
)
def test_it_renders_commonmark_safely(text, expected):
    assert render(text).startswith(expected)


def test_it_moves_headings_below_the_page_headings():
    assert render("# Cause\n\n## Detail").startswith("<h4>Cause</h4>\n<h5>Detail</h5>")
    assert render("# Cause", top=3).startswith("<h3>Cause</h3>")
    assert render("###### Deep", top=3).startswith("<h6>Deep</h6>")


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>ok<script>alert(1)</script></p>", "<p>ok</p>"),
        ('<p><img src="x" onerror="alert(1)">text</p>', "<p>text</p>"),
        ('<a href="javascript:alert(1)" onclick="x()">l</a>', '<a rel="nofollow noopener">l</a>'),
        ('<a href="/x" rel="opener">l</a>', '<a href="/x" rel="nofollow noopener">l</a>'),
        ('<p style="position:fixed" class="x">p</p>', "<p>p</p>"),
        ("<iframe src=https://e.com></iframe><h1>big</h1>", "big"),
    ],
)  # fmt: skip
def test_the_sanitizer_keeps_only_harmless_markup(html, expected):
    assert sanitize(html) == expected
