import json

import pytest
from django.core.management import call_command

from agencies.demo import DATA_FILE
from agencies.models import Agency, Role, User

pytestmark = pytest.mark.django_db


def test_it_creates_the_city_hall_and_the_24_organizations():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    assert Agency.objects.filter(kind=Agency.Kind.CITY).count() == 1
    assert Agency.objects.public_organizations().count() == 24 == len(data["agencies"])
    assert Agency.objects.get(slug="grtc").name_ko == "광주광역시도시철도공사"


def test_each_organization_gets_a_head_a_vice_head_and_two_staff():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    for agency in Agency.objects.public_organizations():
        roles = sorted(agency.users.values_list("role", flat=True))
        assert roles == sorted([Role.HEAD, Role.VICE_HEAD, Role.STAFF, Role.STAFF]), agency.slug
    assert User.objects.filter(role=Role.MAYOR_OFFICE, is_superuser=False).count() == 2
    assert User.objects.filter(is_superuser=True).count() == 1


def test_running_it_twice_changes_nothing(capsys):
    call_command("seed_demo")
    counts = (Agency.objects.count(), User.objects.count())
    password_hash = User.objects.get(username="grtc-staff1").password

    call_command("seed_demo")

    assert (Agency.objects.count(), User.objects.count()) == counts
    # A password someone changed is not reset by re-seeding.
    assert User.objects.get(username="grtc-staff1").password == password_hash


def test_it_prints_the_demo_logins(capsys):
    call_command("seed_demo")

    out = capsys.readouterr().out
    assert "mayor1" in out and "admin" in out and "grtc-staff1" in out
    assert User.objects.get(username="mayor1").check_password("gwangju-demo-2026")


def test_every_demo_person_has_a_name_of_their_own():
    """Not the same "민준 김" at the city hall and at an organization."""
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    names = list(User.objects.filter(is_superuser=False).values_list("last_name", "first_name"))
    assert len(names) == 98
    assert all(family and given for family, given in names)
    assert len(set(names)) == len(names)
