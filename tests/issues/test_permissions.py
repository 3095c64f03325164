"""The permission matrix of CONTRACT.md: every role × every action × visible/restricted.

A restricted issue must not exist for an uninvolved user: 404, never 403, and
never a trace in a list, a search result or an export.
"""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

# persona -> (relation to the issues)
#   alice (staff A), hana (head A), victor (vice-head A): lead agency
#   bob (staff B): cooperating agency
#   carol (staff C): not involved
#   minji: Mayor's office
ALLOWED = "allowed"
FORBIDDEN = "forbidden"  # visible, but not theirs to change: 403
MISSING = "missing"  # does not exist for them: 404 / absent

LEAD = {"list": ALLOWED, "detail": ALLOWED, "edit": ALLOWED, "comment": ALLOWED,
        "answer": FORBIDDEN, "status": ALLOWED, "download": ALLOWED, "export": ALLOWED,
        "search": ALLOWED}  # fmt: skip
COOPERATOR = {**LEAD, "edit": FORBIDDEN, "status": FORBIDDEN, "answer": ALLOWED}
MAYOR = {**LEAD, "edit": FORBIDDEN, "status": FORBIDDEN}
OUTSIDER_OPEN = {**LEAD, "edit": FORBIDDEN, "status": FORBIDDEN, "comment": FORBIDDEN}
OUTSIDER_RESTRICTED = dict.fromkeys(LEAD, MISSING)

EXPECTED = {
    ("alice", "open"): LEAD,
    ("hana", "open"): LEAD,
    ("victor", "open"): LEAD,
    ("bob", "open"): COOPERATOR,
    ("carol", "open"): OUTSIDER_OPEN,
    ("minji", "open"): MAYOR,
    ("alice", "restricted"): LEAD,
    ("hana", "restricted"): LEAD,
    ("victor", "restricted"): LEAD,
    ("bob", "restricted"): COOPERATOR,
    ("carol", "restricted"): OUTSIDER_RESTRICTED,
    ("minji", "restricted"): MAYOR,
}
CASES = [
    (persona, kind, action, outcome)
    for (persona, kind), actions in EXPECTED.items()
    for action, outcome in actions.items()
]


def _outcome_of_response(response) -> str:
    if response.status_code == 404:
        return MISSING
    if response.status_code == 403:
        return FORBIDDEN
    assert response.status_code in (200, 302), response.status_code
    return ALLOWED


def perform(action: str, client, issue, attachment) -> str:
    if action == "list":
        listed = client.get(reverse("issues:list")).context["page"].object_list
        return ALLOWED if issue.pk in {row.pk for row in listed} else MISSING
    if action == "search":
        found = (
            client.get(reverse("issues:list"), {"q": issue.title[:6]}).context["page"].object_list
        )
        return ALLOWED if issue.pk in {row.pk for row in found} else MISSING
    if action == "export":
        body = b"".join(client.get(reverse("issues:export")).streaming_content).decode("utf-8-sig")
        return ALLOWED if issue.title in body else MISSING
    if action == "detail":
        return _outcome_of_response(client.get(issue.get_absolute_url()))
    if action == "edit":
        return _outcome_of_response(client.get(reverse("issues:edit", args=[issue.pk])))
    if action == "status":
        return _outcome_of_response(
            client.post(
                reverse("issues:status", args=[issue.pk]),
                {"status": "in_progress", "version": issue.version},
            )
        )
    if action == "comment":
        return _outcome_of_response(
            client.post(reverse("issues:comment", args=[issue.pk]), {"body": "의견 드립니다"})
        )
    if action == "answer":
        cooperation = issue.cooperations.get()
        prefix = f"c{cooperation.pk}"
        return _outcome_of_response(
            client.post(
                reverse("issues:answer", args=[issue.pk, cooperation.pk]),
                {f"{prefix}-status": "accepted", f"{prefix}-note": ""},
            )
        )
    if action == "download":
        return _outcome_of_response(client.get(attachment.get_absolute_url()))
    raise AssertionError(action)


@pytest.mark.parametrize(("persona", "kind", "action", "expected"), CASES)
def test_permission_matrix(client, request, attachment_on, persona, kind, action, expected):
    issue = request.getfixturevalue(f"{kind}_issue")
    attachment = attachment_on(issue)
    request.getfixturevalue("carol")  # agency C exists for every case
    client.force_login(request.getfixturevalue(persona))

    assert perform(action, client, issue, attachment) == expected


def test_the_mayors_office_may_edit_an_issue_it_filed_for_an_agency(client, minji, agency_a):
    from issues import services

    issue = services.issue_create(actor=minji, title="시 주관 현안", lead_agency=agency_a)
    client.force_login(minji)

    assert client.get(reverse("issues:edit", args=[issue.pk])).status_code == 200


def test_anonymous_users_are_sent_to_login_everywhere(client, open_issue, attachment_on):
    attachment = attachment_on(open_issue)
    urls = [
        reverse("issues:list"),
        reverse("issues:export"),
        reverse("issues:create"),
        open_issue.get_absolute_url(),
        reverse("issues:edit", args=[open_issue.pk]),
        attachment.get_absolute_url(),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url


def test_an_expired_session_on_an_htmx_request_redirects_the_whole_page(client, open_issue):
    response = client.get(reverse("issues:list"), headers={"hx-request": "true"})

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/accounts/login/")


def test_ids_of_another_issue_do_not_reach_its_cooperation(
    client, bob, open_issue, restricted_issue
):
    """IDOR: a cooperation id only works under its own issue's URL."""
    client.force_login(bob)
    other = restricted_issue.cooperations.get()

    response = client.post(
        reverse("issues:answer", args=[open_issue.pk, other.pk]),
        {f"c{other.pk}-status": "accepted"},
    )

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == "requested"


def test_staff_who_filed_an_issue_cannot_edit_it_once_another_agency_leads_it(client, alice, bob):
    from issues import services
    from issues.models import Issue

    issue = services.issue_create(actor=alice, title="이관된 현안", lead_agency=alice.agency)
    # Handed over to agency B (e.g. by an administrator).
    Issue.objects.filter(pk=issue.pk).update(lead_agency=bob.agency)
    client.force_login(alice)

    assert client.get(reverse("issues:edit", args=[issue.pk])).status_code == 403
    response = client.post(
        reverse("issues:status", args=[issue.pk]), {"status": "closed", "version": 2}
    )
    assert response.status_code == 403


@pytest.mark.parametrize("value", ["abc", "1;", ""])
def test_a_malformed_lead_agency_is_a_form_error_not_a_500(client, alice, open_issue, value):
    client.force_login(alice)

    created = client.post(
        reverse("issues:create"),
        {"title": "x", "lead_agency": value, "priority": "normal", "visibility": "all"},
    )
    edited = client.post(
        reverse("issues:edit", args=[open_issue.pk]),
        {"title": "x", "lead_agency": value, "version": 1},
    )

    assert created.status_code == 200 and "lead_agency" in created.context["form"].errors
    assert edited.status_code == 200 and "lead_agency" in edited.context["form"].errors


@pytest.mark.parametrize(
    "params",
    [{"resolved_to": "9999-12-31"}, {"resolved_from": "0001-01-01"}],
)
def test_dates_outside_any_plausible_range_are_ignored_not_a_500(client, alice, open_issue, params):
    client.force_login(alice)

    assert client.get(reverse("issues:list"), params).status_code == 200
    export = client.get(reverse("issues:export"), params)
    assert export.status_code == 200 and b"".join(export.streaming_content)
