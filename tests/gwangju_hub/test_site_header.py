"""The header, the menu and the page-wide dialogs (templates/partials).

What is the same for many people (the masthead, the menu of a role on one
section, the dialogs' words) is rendered once per language and process and
kept in the template_fragments cache. These tests ask for pages one after
another in one process, so a kept fragment would show where it must not.
"""

import re

import pytest
from django.core.cache import caches
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SECTIONS = {
    "dashboard": "/dashboard/",
    "issues": "/issues/",
    "meetings": "/meetings/",
}


def _nav(html: str) -> str:
    return re.search(r'<nav class="site-nav".*?</nav>', html, re.S).group(0)


def _current(nav: str) -> list[str]:
    return re.findall(r'href="([^"]+)" aria-current="page"', nav)


@pytest.fixture(autouse=True)
def _no_fragments_kept_from_other_tests():
    caches["template_fragments"].clear()


PEOPLE = [
    # role, superuser, has a dashboard
    ("staff", False, False),
    ("head", False, True),
    ("vice_head", False, True),
    ("mayor_office", False, True),
    ("staff", True, True),
]


def test_the_menu_fits_each_person_and_marks_the_section_they_are_in(client, agency_a):
    """One person after another on the same pages: each sees their own menu,
    though the menu of a role on a section is rendered once and kept."""
    for _round in range(2):
        for role, superuser, has_dashboard in PEOPLE:
            person = UserFactory(
                username=f"{role}-{superuser}", agency=agency_a, role=role, is_superuser=superuser
            )
            client.force_login(person)
            for section, url in SECTIONS.items():
                if section == "dashboard" and not has_dashboard:
                    continue
                nav = _nav(client.get(url).content.decode())
                who = (role, superuser, section)
                assert ('href="/dashboard/"' in nav) is has_dashboard, who
                assert ('href="/admin/"' in nav) is superuser, who
                assert _current(nav) == [url], who
            # A page outside the menu's sections marks none.
            notifications = client.get(reverse("notifications:list")).content.decode()
            assert _current(_nav(notifications)) == []


def test_the_header_and_dialogs_are_in_the_pages_language(client, alice):
    client.force_login(alice)

    for _twice in range(2):
        korean = client.get("/issues/", headers={"accept-language": "ko"}).content.decode()
        english = client.get("/issues/", headers={"accept-language": "en"}).content.decode()

        assert "광주광역시 내부 업무 서비스입니다" in korean
        assert "An internal service of Gwangju Metropolitan City" in english
        assert ">현안<" in _nav(korean)
        assert ">Issues<" in _nav(english)
        # The htmx error messages and the session dialog's words.
        assert 'data-message-network="The server could not be reached.' in english
        assert 'data-message-network="The server could not be reached.' not in korean
        assert "Your session is about to end" in english
        assert "Your session is about to end" not in korean


def test_the_session_dialog_keeps_each_requests_own_numbers_and_token(client, alice):
    client.force_login(alice)

    first = client.get("/issues/").content.decode()
    client.cookies.pop("csrftoken", None)
    client.force_login(alice)  # a new session: a new CSRF secret
    second = client.get("/issues/").content.decode()

    def logout_tokens(html: str) -> list[str]:
        dialog = re.search(r'<dialog id="session-dialog".*?</dialog>', html, re.S).group(0)
        return re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', dialog)

    assert logout_tokens(first) and logout_tokens(second)
    assert logout_tokens(first) != logout_tokens(second)
    assert 'data-idle-remaining="1800"' in second
