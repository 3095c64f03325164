"""gwangju_hub/admin.py: two Django admin 500s on crafted requests, now ordinary answers."""

import pytest
from django.urls import reverse

from issues import services
from issues.models import Issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def issue(alice):
    return services.issue_create(actor=alice, title="관리자 화면 점검", lead_agency=alice.agency)


@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_an_empty_to_field_means_the_primary_key(client, superuser, issue, view):
    client.force_login(superuser)

    response = client.get(reverse(f"admin:issues_issue_{view}", args=[issue.pk]) + "?_to_field=")

    assert response.status_code == 200
    assert issue.title in response.content.decode()


@pytest.mark.parametrize("value", ["abc", "\x01", "1.5", str(10**20)])
def test_an_autocomplete_field_with_a_value_it_cannot_hold_is_a_form_error(
    client, superuser, issue, value
):
    client.force_login(superuser)

    response = client.post(
        reverse("admin:issues_issue_change", args=[issue.pk]),
        {
            "title": "고친 제목",
            "lead_agency": value,
            "assignee": value,
            "priority": "normal",
            "status": "open",
            "visibility": "all",
            "expected_version": issue.version,
        },
    )

    assert response.status_code == 200
    assert "lead_agency" in response.context["adminform"].form.errors
    assert Issue.objects.get(pk=issue.pk).title == issue.title
