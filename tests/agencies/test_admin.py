import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from agencies.models import Agency, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def seeded(db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_agency_list_shows_all_organizations(admin_client, seeded):
    response = admin_client.get(reverse("admin:agencies_agency_changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count == 25  # 24 organizations + city hall
    assert "광주광역시도시철도공사" in response.content.decode()


def test_agency_search_finds_korean_substrings(admin_client, seeded):
    response = admin_client.get(reverse("admin:agencies_agency_changelist"), {"q": "도시철도"})

    assert [a.slug for a in response.context["cl"].result_list] == ["grtc"]


def test_agency_page_lists_its_users_inline(admin_client, seeded):
    grtc = Agency.objects.get(slug="grtc")

    response = admin_client.get(reverse("admin:agencies_agency_change", args=[grtc.pk]))

    assert "grtc-head" in response.content.decode()
    assert "grtc-staff2" in response.content.decode()


def test_deactivate_action_deactivates_agency_and_its_users(admin_client, seeded):
    grtc = Agency.objects.get(slug="grtc")

    admin_client.post(
        reverse("admin:agencies_agency_changelist"),
        {"action": "deactivate", "_selected_action": [grtc.pk]},
    )

    grtc.refresh_from_db()
    assert grtc.is_active is False
    assert not grtc.users.filter(is_active=True).exists()
    assert Agency.objects.get(slug="gmdc").is_active is True


def test_user_list_filters_by_role_and_searches_korean_agency_names(admin_client, seeded):
    url = reverse("admin:agencies_user_changelist")

    heads = admin_client.get(url, {"role__exact": "head"}).context["cl"]
    found = admin_client.get(url, {"q": "도시철도공사"}).context["cl"]

    assert heads.result_count == 24
    assert sorted(u.username for u in found.result_list) == [
        "grtc-head",
        "grtc-staff1",
        "grtc-staff2",
        "grtc-vice",
    ]


def test_user_list_query_count_does_not_grow_with_users(
    admin_client, seeded, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        admin_client.get(reverse("admin:agencies_user_changelist"))


def _csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(
        "users.csv", ("\ufeff" + text).encode("utf-8"), content_type="text/csv"
    )


def test_csv_import_creates_good_rows_and_reports_bad_ones(admin_client, seeded):
    data = (
        "username,agency,role,email,last_name,first_name,password\n"
        "new-staff,grtc,staff,new@example.go.kr,홍,길동,\n"
        "grtc-head,grtc,head,,,,\n"  # exists already
        "ghost,no-such-agency,staff,,,,\n"  # unknown agency
        "badrole,gmdc,emperor,,,,\n"  # unknown role
        "bademail,gmdc,staff,not-an-email,,,\n"
        "second,gmdc,vice_head,second@example.go.kr,이,순신,long-enough-passphrase-77\n"
    )

    response = admin_client.post(reverse("admin:agencies_user_import"), {"file": _csv(data)})

    assert response.status_code == 200
    body = response.content.decode()
    assert [line for line, _ in response.context["result"].errors] == [3, 4, 5, 6]
    assert "no-such-agency" in body and "emperor" in body and "not-an-email" in body
    created = User.objects.get(username="new-staff")
    assert (created.agency.slug, created.role, created.has_usable_password()) == (
        "grtc",
        "staff",
        False,
    )
    second = User.objects.get(username="second")
    assert second.check_password("long-enough-passphrase-77")


def test_csv_import_without_errors_returns_to_the_user_list(admin_client, seeded):
    data = "username,agency,role\nsolo,gec,staff\n"

    response = admin_client.post(reverse("admin:agencies_user_import"), {"file": _csv(data)})

    assert response.status_code == 302
    assert User.objects.filter(username="solo", agency__slug="gec").exists()


def test_csv_import_refuses_a_file_with_missing_columns(admin_client, seeded):
    response = admin_client.post(reverse("admin:agencies_user_import"), {"file": _csv("name\nx\n")})

    assert "username" in response.content.decode()
    assert not User.objects.filter(username="x").exists()


def test_csv_import_refuses_non_utf8(admin_client, seeded):
    upload = SimpleUploadedFile(
        "users.csv", "username,agency,role\n광주,gec,staff\n".encode("cp949")
    )

    response = admin_client.post(reverse("admin:agencies_user_import"), {"file": upload})

    assert response.status_code == 200
    assert response.context["result"].errors[0][0] == 0


def test_csv_import_is_for_administrators_only(client, alice):
    client.force_login(alice)

    response = client.get(reverse("admin:agencies_user_import"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
