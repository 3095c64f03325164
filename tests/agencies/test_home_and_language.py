import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_mayor_office_goes_to_the_dashboard(client, minji):
    client.force_login(minji)

    assert client.get("/")["Location"] == reverse("dashboard")


@pytest.mark.parametrize("persona", ["alice", "hana", "victor"])
def test_everyone_else_goes_to_the_issue_list(client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get("/")["Location"] == reverse("issues:list")


def test_a_superuser_without_the_role_also_starts_on_the_dashboard(client, agency_a):
    from tests.factories import UserFactory

    admin = UserFactory(username="sysadmin", agency=agency_a, role="staff")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)

    assert client.get("/")["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


@pytest.mark.parametrize(
    ("persona", "has_dashboard"),
    [("alice", False), ("victor", True), ("hana", True), ("minji", True), ("superuser", True)],
)
def test_the_menu_offers_the_dashboard_exactly_to_those_who_have_one(
    client, request, persona, has_dashboard
):
    client.force_login(request.getfixturevalue(persona))
    dashboard_link = f'href="{reverse("dashboard")}"'

    page = client.get(reverse("issues:list")).content.decode()
    dashboard = client.get(reverse("dashboard"))

    assert (dashboard_link in page) is has_dashboard
    assert (dashboard.status_code == 200) is has_dashboard  # staff are sent to the list


def test_login_page_is_korean_by_default(client):
    body = client.get("/accounts/login/").content.decode()

    assert '<html lang="ko">' in body
    assert "사용자 이름" in body and "비밀번호" in body


def test_login_page_labels_follow_accept_language_english(client):
    body = client.get("/accounts/login/", headers={"accept-language": "en"}).content.decode()

    assert '<html lang="en">' in body
    assert ">Username</label>" in body
    assert ">Password</label>" in body


def test_language_switch_sticks_in_a_cookie(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/accounts/login/"})

    assert response.status_code == 302
    body = client.get("/accounts/login/").content.decode()
    assert '<html lang="en">' in body


def test_language_switch_is_saved_for_a_signed_in_user(client, alice):
    client.force_login(alice)

    client.post(reverse("set_language"), {"language": "en", "next": "/"})

    alice.refresh_from_db()
    assert alice.preferred_language == "en"


def test_saved_language_follows_the_user_to_a_new_browser(client, alice):
    alice.preferred_language = "en"
    alice.save()
    client.force_login(alice)

    body = client.get(reverse("issues:list")).content.decode()

    assert '<html lang="en">' in body


def test_language_switch_refuses_foreign_redirects(client):
    response = client.post(
        reverse("set_language"), {"language": "en", "next": "https://evil.example/"}
    )

    assert response["Location"] == "/"


def test_header_shows_the_users_agency_and_a_skip_link(client, alice):
    client.force_login(alice)

    body = client.get(reverse("issues:list")).content.decode()

    assert "광주가기관" in body
    assert 'href="#main"' in body and 'id="main"' in body


@pytest.mark.parametrize(
    ("url", "title"),
    [
        ("/accounts/login/", "Log in · Gwangju Hub"),
        ("/issues/", "Issues · Gwangju Hub"),
        ("/meetings/", "Meetings · Gwangju Hub"),
        ("/notifications/", "Notifications · Gwangju Hub"),
    ],
)
def test_page_titles_separate_the_page_from_the_site(client, minji, url, title):
    if url != "/accounts/login/":
        client.force_login(minji)

    body = client.get(url, headers={"accept-language": "en"}).content.decode()

    assert f"<title>{title}</title>" in body


def test_korean_page_titles_are_separated_too(client, alice):
    client.force_login(alice)

    body = client.get("/issues/").content.decode()

    assert "<title>현안 · 광주 허브</title>" in body
