"""The single Markdown renderer for user-written text (issue descriptions, comments).

City staff write descriptions and comments in Markdown, mostly in Korean. Every
place that shows such text goes through :func:`render_markdown`, so there is one
set of rules for what user text may turn into, and one place to fix them.

Rendering happens in two layers, each enough on its own for the common cases:

1. Python-Markdown runs with raw HTML switched off: the ``html_block``
   preprocessor and the ``html`` inline pattern are removed, so ``<script>``,
   ``<iframe>``, ``<div style=...>`` and friends come out as escaped, visible
   text instead of live markup. (Python-Markdown 3 has no "safe mode" any more.)
2. ``nh3`` (ammonia) then cleans the generated HTML against an explicit
   allow-list of tags, attributes and URL schemes. This catches what Markdown
   itself happily produces from hostile input, e.g. ``[x](javascript:...)``,
   ``data:`` URLs, or ``<img>`` from ``![..](..)``.

Headings are shifted down two levels (``#`` becomes ``<h3>``, capped at
``<h6>``): the page already owns ``<h1>`` (issue title) and ``<h2>`` (sections),
and user text must not break the document outline that screen readers use.
"""

from __future__ import annotations

import functools
import threading
import xml.etree.ElementTree as etree  # noqa: S405 - we only walk Markdown's own tree

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown.inlinepatterns import SimpleTagInlineProcessor
from markdown.treeprocessors import Treeprocessor

# The highest heading level user text may produce; Markdown "#" maps to this.
TOP_HEADING_LEVEL = 3
HEADING_SHIFT = TOP_HEADING_LEVEL - 1

# Deliberately no "extra": its attr_list ({: onclick=...}) and md_in_html
# extensions exist to let authors inject attributes and raw HTML, and footnotes
# need ids/classes we don't allow. Tables and fenced code are what staff use.
MARKDOWN_EXTENSIONS = ["tables", "fenced_code", "sane_lists", "nl2br"]
MARKDOWN_EXTENSION_CONFIGS = {
    # align="..." instead of style="text-align: ...": style is never allowed.
    "tables": {"use_align_attribute": True},
}

# No <img>: pictures are shared as attachments, which are access-checked,
# virus-scanned and size-limited. An inline image would fetch an arbitrary
# external URL from every reader's browser (tracking pixels, leaking who read
# an internal issue and when) and bypass all of that. Markdown images are
# turned into plain links (see _ImagesToLinks) rather than silently vanishing.
# No h1/h2: see the heading demotion above; listing them here would let them
# through if the demotion ever failed, so they are unwrapped to plain text.
ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
}
# No style, no class, no id, no on* handlers: nothing but what is listed here.
# "rel" is not listed because nh3 sets it itself (link_rel below).
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
}
TABLE_ALIGN = {"align": {"left", "center", "right"}}
ALLOWED_ATTRIBUTE_VALUES = {"th": TABLE_ALIGN, "td": TABLE_ALIGN}
# Relative URLs (links to other pages of the hub) pass through unchanged.
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"

_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags={"script", "style"},
    attributes=ALLOWED_ATTRIBUTES,
    tag_attribute_values=ALLOWED_ATTRIBUTE_VALUES,
    url_schemes=ALLOWED_URL_SCHEMES,
    link_rel=LINK_REL,
    strip_comments=True,
)


class _DemoteHeadings(Treeprocessor):
    """Shift every heading down so the highest one user text produces is h3.

    Works on the parsed element tree rather than the HTML string, so ATX (``#``)
    and setext (``===``) headings are both covered and nothing inside code
    blocks or text is touched.
    """

    def run(self, root: etree.Element) -> None:
        for element in root.iter():
            tag = element.tag
            if isinstance(tag, str) and len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
                element.tag = f"h{min(int(tag[1]) + HEADING_SHIFT, 6)}"


class _ImagesToLinks(Treeprocessor):
    """Turn ``![alt](url)`` into a link to ``url`` labelled ``alt``.

    Images are not allowed (see ALLOWED_TAGS); a link keeps what the author
    meant to share reachable without the reader's browser fetching it. The
    link's URL is still checked by nh3 like any other.
    """

    def run(self, root: etree.Element) -> None:
        for element in root.iter("img"):
            src = element.attrib.get("src", "")
            alt = element.attrib.get("alt", "")
            title = element.attrib.get("title")
            element.tag = "a"
            element.attrib.clear()
            element.set("href", src)
            if title:
                element.set("title", title)
            element.text = alt or src


def _build_markdown() -> markdown.Markdown:
    md = markdown.Markdown(
        extensions=MARKDOWN_EXTENSIONS,
        extension_configs=MARKDOWN_EXTENSION_CONFIGS,
        output_format="html",
    )
    # Raw HTML is treated as text: block-level (<div>...) and inline (<b>, <a ...>).
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    # ~~strikethrough~~ (GitHub style, which staff expect); after code spans (190)
    # and backslash escapes (180) so `~~` in code, or written \~~, stays literal.
    md.ESCAPED_CHARS.append("~")
    md.inlinePatterns.register(
        SimpleTagInlineProcessor(r"()~~(?=\S)(.+?)(?<=\S)~~", "del"), "strikethrough", 65
    )
    md.treeprocessors.register(_DemoteHeadings(md), "demote_headings", 5)
    md.treeprocessors.register(_ImagesToLinks(md), "images_to_links", 4)
    return md


def render_markdown(text: str | None) -> SafeString:
    """Render user-written Markdown to sanitized HTML that is safe to output as-is.

    This is the one renderer for issue descriptions and comments, used by every
    template (via the ``markdown`` filter in ``markdown_tags``) and by anything
    else that shows that text, so what staff write looks the same everywhere and
    the sanitizing rules live in one place. Raw HTML in the input is shown as text, never
    rendered; the result is passed through nh3 with an explicit allow-list, so
    it is marked safe for Django's autoescaping. Empty or ``None`` input gives
    an empty string.
    """
    if not text:
        return mark_safe("")  # noqa: S308 - constant empty string
    return mark_safe(_render(str(text)))  # noqa: S308 - sanitized by nh3 in _render


# The HTML is a function of the text alone, so a comment or description is
# rendered once per process and version of its text, not on every page view
# (the detail page of a busy issue shows dozens). Bounded: at most this many texts.
RENDERED_CACHE_SIZE = 2048


@functools.lru_cache(maxsize=RENDERED_CACHE_SIZE)
def _render(text: str) -> str:
    return _cleaner.clean(_markdown().convert(text))


_local = threading.local()


def _markdown() -> markdown.Markdown:
    """This thread's Markdown instance, reset for a new document.

    Building one (its extensions and patterns) costs more than converting a
    comment. An instance keeps per-document state (references, stash) and is
    not safe to share between threads, so each thread has its own and
    ``reset()`` clears that state before every document.
    """
    md = getattr(_local, "md", None)
    if md is None:
        md = _local.md = _build_markdown()
    return md.reset()
