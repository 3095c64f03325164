"""The shared Markdown renderer: staff formatting survives, hostile markup does not.

Pure unit tests: no database. Assertions look at the parsed output (tags and
attributes), not only at substrings, so a sanitizer regression cannot hide
behind escaping details.
"""

import html
import re
from html.parser import HTMLParser

import pytest
from django.template import Context, Template
from django.utils.safestring import SafeString

from issues.markdown import render_markdown


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def elements(output: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every start tag in the output, with its (entity-decoded) attributes."""
    parser = _Collector()
    parser.feed(str(output))
    parser.close()
    return parser.elements


def tags(output: str) -> list[str]:
    return [tag for tag, _ in elements(output)]


def hrefs(output: str) -> list[str]:
    return [attrs["href"] for tag, attrs in elements(output) if tag == "a" and "href" in attrs]


def scheme(url: str) -> str:
    """The scheme a browser would see: it ignores ASCII whitespace/controls in it."""
    cleaned = re.sub(r"[\x00-\x20]", "", html.unescape(url)).lower()
    return cleaned.split(":", 1)[0] if ":" in cleaned else ""


def test_it_renders_emphasis_lists_tables_and_code():
    output = render_markdown(
        "**bold** *italic*\n\n"
        "- one\n- two\n\n"
        "1. first\n2. second\n\n"
        "| 기관 | 상태 |\n|:--|:-:|\n| 가 | 진행 |\n\n"
        "```python\nx = 1 < 2\n```\n\n"
        "inline `code` here\n\n"
        "> quoted\n\n"
        "---"
    )

    found = tags(output)
    for tag in ("strong", "em", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td"):
        assert tag in found, tag
    for tag in ("pre", "code", "blockquote", "hr"):
        assert tag in found, tag
    assert "<strong>bold</strong>" in output
    assert "<em>italic</em>" in output
    assert "<pre><code>x = 1 &lt; 2\n</code></pre>" in output
    # Column alignment survives as align="..." (style is never allowed).
    assert ("th", {"align": "left"}) in elements(output)
    assert ("td", {"align": "center"}) in elements(output)


def test_it_renders_strikethrough_and_line_breaks():
    output = render_markdown("~~취소~~ 첫 줄\n둘째 줄\n\n`~~code~~`")

    assert "<del>취소</del>" in output
    assert "<br>" in output  # nl2br: a single newline is a line break, as staff expect
    assert "<code>~~code~~</code>" in output


def test_it_keeps_korean_text():
    text = "광주광역시 **협조 요청** 사항입니다.\n\n- 담당 기관: 광주가기관"

    output = render_markdown(text)

    assert "광주광역시 <strong>협조 요청</strong> 사항입니다." in output
    assert "<li>담당 기관: 광주가기관</li>" in output
    assert "&#" not in output  # not entity-encoded either


def test_it_drops_script_tags():
    output = render_markdown(
        "before\n\n<script>alert('xss')</script>\n\nafter <script>x()</script>"
    )

    assert "script" not in tags(output)
    assert "<script" not in output.lower()
    assert "before" in output and "after" in output


@pytest.mark.parametrize(
    "text",
    [
        "<img src=x onerror=alert(1)>",
        '<a href="#" onclick="alert(1)">click</a>',
        '<p onmouseover="alert(1)">hover</p>',
        '[x](https://example.com "a" onclick="alert(1)")',
        '<svg onload="alert(1)"></svg>',
    ],
)
def test_it_drops_event_handler_attributes(text):
    output = render_markdown(text)

    for tag, attrs in elements(output):
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
    assert "img" not in tags(output)
    assert "svg" not in tags(output)


@pytest.mark.parametrize(
    "text",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](java&#09;script:alert(1))",
        "[x](<javascript:alert(1)>)",
        "[x][r]\n\n[r]: javascript:alert(1)",
        "<javascript:alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href="java&#09;script:alert(1)">x</a>',
        '<a href="  javascript:alert(1)">x</a>',
    ],
)
def test_it_drops_javascript_links(text):
    output = render_markdown(text)

    assert all(scheme(href) != "javascript" for href in hrefs(output)), output
    assert "javascript" not in [scheme(href) for href in hrefs(output)]


@pytest.mark.parametrize(
    "text",
    [
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](data:image/svg+xml;base64,PHN2Zy8+)",
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
        "[x](vbscript:msgbox(1))",
    ],
)
def test_it_drops_data_urls(text):
    output = render_markdown(text)

    assert all(scheme(href) in ("http", "https", "mailto", "") for href in hrefs(output))
    assert "data:" not in "".join(hrefs(output)).lower()
    assert "img" not in tags(output)


def test_it_keeps_http_https_mailto_and_relative_links():
    output = render_markdown(
        "[a](http://example.com) [b](https://gwangju.go.kr/x?y=1&z=2) "
        "[c](mailto:staff@gwangju.go.kr) [d](/issues/42/) <https://example.org>"
    )

    assert hrefs(output) == [
        "http://example.com",
        "https://gwangju.go.kr/x?y=1&z=2",
        "mailto:staff@gwangju.go.kr",
        "/issues/42/",
        "https://example.org",
    ]


def test_it_adds_rel_noopener_to_links():
    output = render_markdown('[site](https://example.com "제목") and <https://example.org>')

    links = [attrs for tag, attrs in elements(output) if tag == "a"]
    assert len(links) == 2
    for attrs in links:
        assert set(attrs["rel"].split()) == {"noopener", "noreferrer", "nofollow"}
    assert links[0]["title"] == "제목"


def test_it_does_not_let_authors_choose_rel_or_target():
    output = render_markdown('<a href="https://e.x" rel="opener" target="_blank">x</a>')
    output += render_markdown("[x](https://e.x)")

    for tag, attrs in elements(output):
        assert "target" not in attrs
        if tag == "a":
            assert "opener" not in attrs["rel"].split()


def test_it_demotes_headings():
    output = render_markdown(
        "# 제목 1\n\n## 제목 2\n\n### 제목 3\n\n#### 제목 4\n\n###### 제목 6\n\nSetext\n======"
    )

    assert tags(output) == ["h3", "h4", "h5", "h6", "h6", "h3"]
    assert "<h3>제목 1</h3>" in output
    assert "<h4>제목 2</h4>" in output


def test_it_never_outputs_top_level_headings_from_raw_html():
    output = render_markdown("<h1>큰 제목</h1>\n\n<h2>작은 제목</h2>")

    assert "h1" not in tags(output)
    assert "h2" not in tags(output)
    assert "큰 제목" in output


def test_it_escapes_raw_html_iframes_and_styles():
    output = render_markdown(
        '<iframe src="https://evil.example"></iframe>\n\n'
        "<style>body { display: none }</style>\n\n"
        '<div style="position:fixed;inset:0">overlay</div>\n\n'
        'text <b>bold</b> <span style="color:red">red</span>\n\n'
        '<object data="x.swf"></object><embed src="x.swf"><form action="/x"><input></form>'
    )

    found = tags(output)
    for tag in ("iframe", "style", "div", "b", "span", "object", "embed", "form", "input"):
        assert tag not in found, tag
    assert not any("style" in attrs for _, attrs in elements(output))
    # Raw HTML is shown to the reader as text, not silently swallowed.
    assert "&lt;iframe" in output
    assert "&lt;b&gt;bold&lt;/b&gt;" in output


def test_it_turns_images_into_plain_links():
    output = render_markdown(
        "![배치도](https://example.com/plan.png) ![](https://example.com/a.png)"
    )

    assert "img" not in tags(output)
    assert hrefs(output) == ["https://example.com/plan.png", "https://example.com/a.png"]
    assert ">배치도</a>" in output


def test_it_strips_html_comments_and_keeps_code_literal():
    output = render_markdown("`<script>alert(1)</script>`\n\n<!-- hidden -->")

    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in output
    assert "<!--" not in output
    assert "script" not in tags(output)


@pytest.mark.parametrize("text", [None, "", "   \n"])
def test_empty_input(text):
    output = render_markdown(text)

    assert output.strip() == ""
    assert isinstance(output, SafeString)


def test_it_returns_a_safe_string():
    assert isinstance(render_markdown("**x**"), SafeString)


def test_the_template_filter_renders_safely():
    template = Template("{% load markdown_tags %}<div>{{ text|markdown }}</div>")
    text = "**굵게** [링크](javascript:alert(1))\n\n<script>alert(1)</script>"

    output = template.render(Context({"text": text}))

    # Not double-escaped: the filter's output is trusted HTML...
    assert "<strong>굵게</strong>" in output
    # ...and only because it was sanitized.
    assert "script" not in tags(output)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in output
    assert all(scheme(href) != "javascript" for href in hrefs(output))
    assert tags(output).count("a") == 1


def test_the_template_filter_handles_missing_text():
    template = Template("{% load markdown_tags %}[{{ text|markdown }}][{{ missing|markdown }}]")

    assert template.render(Context({"text": None})) == "[][]"


def test_one_document_leaves_nothing_behind_for_the_next():
    """The renderer reuses its Markdown instance: reference links and stashed code
    of one text must not show up in another."""
    from issues import markdown as renderer

    renderer._render.cache_clear()
    first = render_markdown(
        "[지도][ref]\n\n[ref]: https://example.go.kr/map\n\n```\n<b>코드</b>\n```"
    )
    second = render_markdown("[지도][ref] 참고")

    assert 'href="https://example.go.kr/map"' in first
    assert "&lt;b&gt;코드&lt;/b&gt;" in first
    assert "href" not in second and "[지도][ref]" in second


def test_the_same_text_is_rendered_once():
    from issues import markdown as renderer

    renderer._render.cache_clear()
    render_markdown("**굵게**")
    render_markdown("**굵게**")

    assert renderer._render.cache_info().hits == 1
    assert render_markdown("**굵게**") == "<p><strong>굵게</strong></p>"
