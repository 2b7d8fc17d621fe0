"""Incident and maintenance update bodies: Markdown in, safe HTML out.

CommonMark with raw HTML off (markdown-it-py), then sanitized again with nh3 as a second
line of defence: a short allow-list of tags, no event handlers, only http(s)/mailto
links, each with ``rel="nofollow noopener"``. Headings move below the page's own (a
body's ``#`` takes the level the page gives it) and images become links to them, so the
page loads nothing from other origins.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markupsafe import Markup

TAGS = {
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h3", "h4", "h5", "h6",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow noopener"

_md = MarkdownIt("commonmark", {"html": False})


def sanitize(html: str) -> str:
    """Keep only the allow-listed tags and attributes; drop scripts with their content."""
    return nh3.clean(
        html,
        tags=TAGS,
        clean_content_tags={"script", "style"},
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
    )


def render(text: str, top: int = 4) -> Markup:
    """Safe HTML for an update body written in Markdown; its ``#`` becomes ``h{top}``."""
    top = max(3, min(6, top))
    tokens = _md.parse(text or "")
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + top - 1)}"
    return Markup(sanitize(_md.renderer.render(tokens, _md.options, {})))


def _image_as_link(renderer, tokens, idx, options, env) -> str:
    """``![alt](src)`` becomes a link to the image: nothing loads from its origin."""
    token = tokens[idx]
    src = escapeHtml(token.attrGet("src") or "")
    alt = renderer.renderInlineAsText(token.children or [], options, env)
    return f'<a href="{src}">{escapeHtml(alt) or src}</a>'


_md.add_render_rule("image", _image_as_link)
