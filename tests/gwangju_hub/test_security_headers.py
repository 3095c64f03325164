"""Content-Security-Policy, Permissions-Policy and no-store, as the browser receives them.

Each test fails if its protection is switched off (the middleware removed from
settings.MIDDLEWARE, or its setting emptied); tests/browser/test_csp.py checks
that the pages actually work under the policy.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone

from issues import services
from meetings import services as meeting_services
from tests.issues.samples import pdf_bytes, uploaded

pytestmark = pytest.mark.django_db


def _directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


@pytest.mark.parametrize("signed_in", [False, True])
def test_every_page_carries_a_strict_content_security_policy(client, alice, signed_in):
    if signed_in:
        client.force_login(alice)
    response = client.get(reverse("issues:list") if signed_in else reverse("login"))

    directives = _directives(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert "unsafe" not in response["Content-Security-Policy"]


def test_permissions_policy_switches_off_what_the_site_never_uses(client, alice):
    client.force_login(alice)
    for response in (client.get(reverse("issues:list")), client.get(reverse("healthz"))):
        policy = dict(
            part.strip().split("=", 1) for part in response["Permissions-Policy"].split(",")
        )
        for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
            assert policy[feature] == "()"


@pytest.fixture
def private_urls(alice, bob, minji, settings, tmp_path):
    """A signed-in page of each kind: page, htmx fragment, exports, attachment."""
    settings.MEDIA_ROOT = tmp_path
    issue = services.issue_create(
        actor=alice, title="캐시 금지 확인", lead_agency=alice.agency, visibility="restricted"
    )
    attachment = services.attachment_add(
        issue=issue, actor=alice, uploaded_file=uploaded("자료.pdf", pdf_bytes())
    )
    return {
        "alice": [
            (reverse("issues:list"), {}),
            (issue.get_absolute_url(), {}),
            (issue.get_absolute_url() + "?partial=timeline", {"HTTP_HX_REQUEST": "true"}),
            (reverse("issues:export"), {}),
            (attachment.get_absolute_url(), {}),
            (reverse("meetings:list"), {}),
            (reverse("notifications:list"), {}),
            ("/accounts/settings/", {}),
            (reverse("performance:overview", args=[timezone.localdate().year]), {}),
        ],
        "minji": [
            (reverse("dashboard"), {}),
            (reverse("dashboard_export", args=["csv"]), {}),
            (reverse("dashboard_export", args=["xlsx"]), {}),
        ],
    }


def test_nothing_a_signed_in_user_receives_may_be_stored(client, alice, minji, private_urls):
    for name, user in (("alice", alice), ("minji", minji)):
        client.force_login(user)
        for url, headers in private_urls[name]:
            response = client.get(url, **headers)
            assert response.status_code == 200, url
            cache_control = response["Cache-Control"]
            assert "no-store" in cache_control and "private" in cache_control, url


def test_the_calendar_feed_is_not_stored_either(client, alice):
    token = meeting_services.calendar_token_rotate(user=alice)

    response = client.get(reverse("meetings:calendar"), {"token": token.token})

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def test_static_files_stay_cacheable_for_signed_in_users(client, alice, settings):
    # WhiteNoise answers static files before any of our middleware runs.
    settings.WHITENOISE_USE_FINDERS = True
    client.force_login(alice)
    assert finders.find("css/app.css")

    response = client.get(settings.STATIC_URL + "css/app.css")

    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_templates_hold_no_inline_script_style_or_event_handler():
    """What the policy would block, found before a browser does (tests/browser/test_csp.py)."""
    roots = [Path(settings.BASE_DIR) / "templates"] + [
        Path(settings.BASE_DIR) / app / "templates" for app in ("agencies", "issues", "meetings")
    ]
    forbidden = [
        (re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I), "inline <script>"),
        (re.compile(r"<style[\s>]", re.I), "<style> element"),
        (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
        (re.compile(r"\son[a-z]+\s*=", re.I), "event handler attribute"),
        (re.compile(r"\shx-on", re.I), "hx-on attribute (needs eval)"),
        (re.compile(r"javascript:", re.I), "javascript: URL"),
    ]
    found = []
    for root in roots:
        for path in root.rglob("*.html"):
            text = path.read_text(encoding="utf-8")
            # Template comments may name what they avoid.
            text = re.sub(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", "", text, flags=re.S)
            for pattern, what in forbidden:
                if pattern.search(text):
                    found.append(f"{path.relative_to(settings.BASE_DIR)}: {what}")
    assert found == []
