"""The person behind a session is loaded with their organization, in one query."""

import pytest
from django.urls import reverse

from agencies.backends import UserBackend
from agencies.models import User


def test_a_signed_in_person_comes_with_their_organization(alice, django_assert_num_queries):
    with django_assert_num_queries(1):
        user = UserBackend().get_user(alice.pk)
        assert user.agency.name == alice.agency.name


@pytest.mark.django_db
def test_a_superuser_without_an_organization_is_loaded_too():
    # Made from the command line before any organization existed (see User).
    root = User.objects.create_superuser("root", "root@example.go.kr", "x")

    user = UserBackend().get_user(root.pk)

    assert user == root
    assert user.agency is None


@pytest.mark.django_db
def test_an_unknown_or_deactivated_person_is_nobody(alice):
    User.objects.filter(pk=alice.pk).update(is_active=False)

    assert UserBackend().get_user(alice.pk) is None
    assert UserBackend().get_user(alice.pk + 1000) is None


@pytest.mark.django_db
def test_a_change_is_seen_on_the_next_request_although_the_query_is_compiled_once(alice):
    """The query is compiled once per person (core.compiled); its answer is not kept."""
    assert UserBackend().get_user(alice.pk) == alice
    User.objects.filter(pk=alice.pk).update(first_name="서연")
    assert UserBackend().get_user(alice.pk).first_name == "서연"

    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert UserBackend().get_user(alice.pk) is None
    assert UserBackend().get_user("not a number") is None


def test_pages_read_the_organization_from_the_session_query(client, alice):
    """The header shows the organization without asking the database again."""
    client.force_login(alice)

    response = client.get(reverse("notifications:list"))

    user = response.wsgi_request.user
    assert User.agency.is_cached(user)
    assert alice.agency.name in response.content.decode()


def test_signing_in_with_a_password_uses_it(client, alice):
    client.post(reverse("login"), {"username": alice.username, "password": "x"})  # a failure first
    alice.set_password("correct horse battery staple 1")
    alice.save()

    response = client.post(
        reverse("login"), {"username": alice.username, "password": "correct horse battery staple 1"}
    )

    assert response.status_code == 302
    assert client.session["_auth_user_backend"] == "agencies.backends.UserBackend"
