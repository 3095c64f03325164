import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from issues.models import Cooperation, Event, Issue

pytestmark = pytest.mark.django_db

TOMORROW = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()


def _form_data(lead, **overrides) -> dict:
    data = {
        "title": "공동 채용 박람회 개최",
        "description": "청년 일자리 박람회를 **함께** 엽니다.",
        "lead_agency": lead.pk,
        "cooperating_agencies": [],
        "category": "",
        "priority": "high",
        "visibility": "all",
        "due_date": TOMORROW,
        "assignee": "",
    }
    data.update(overrides)
    return data


def test_the_form_has_the_contract_labels_in_english(client, alice):
    client.force_login(alice)

    body = client.get(reverse("issues:create"), headers={"accept-language": "en"}).content.decode()

    labels = re.findall(r"<label[^>]*>([^<]+)", body)
    for expected in ("Title", "Description", "Lead agency", "Cooperating agencies", "Category",
                     "Priority", "Due date", "Visibility"):  # fmt: skip
        assert expected in labels, expected


def test_staff_file_an_issue_asking_another_agency_to_cooperate(client, alice, bob):
    client.force_login(alice)

    response = client.post(
        reverse("issues:create"), _form_data(alice.agency, cooperating_agencies=[bob.agency.pk])
    )

    issue = Issue.objects.get()
    assert response.status_code == 302 and response["Location"] == issue.get_absolute_url()
    assert (issue.lead_agency, issue.created_by, issue.priority) == (alice.agency, alice, "high")
    assert list(issue.cooperations.values_list("agency", "status")) == [
        (bob.agency.pk, "requested")
    ]
    assert [e.kind for e in issue.events.all()] == ["created", "cooperation_requested"]


def test_staff_may_only_choose_their_own_agency_as_lead(client, alice, bob):
    client.force_login(alice)

    response = client.post(reverse("issues:create"), _form_data(bob.agency))

    assert response.status_code == 200
    assert "lead_agency" in response.context["form"].errors
    assert not Issue.objects.exists()


def test_the_mayors_office_may_file_for_any_agency(client, minji, bob):
    client.force_login(minji)

    client.post(reverse("issues:create"), _form_data(bob.agency))

    assert Issue.objects.get().lead_agency == bob.agency


def test_the_lead_agency_cannot_also_cooperate(client, alice):
    client.force_login(alice)

    response = client.post(
        reverse("issues:create"), _form_data(alice.agency, cooperating_agencies=[alice.agency.pk])
    )

    assert "cooperating_agencies" in response.context["form"].errors
    assert not Issue.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "가" * 201, "200"),
        ("title", "", "required"),
        ("due_date", "2020-01-01", "past"),
        ("due_date", "2026-13-45", "valid date"),
        ("priority", "apocalyptic", "valid choice"),
    ],
)
def test_bad_input_gets_a_message_in_the_form_and_keeps_the_rest(
    client, alice, field, value, message
):
    client.force_login(alice)

    response = client.post(
        reverse("issues:create"),
        _form_data(alice.agency, **{field: value}),
        headers={"accept-language": "en"},
    )

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert "청년 일자리 박람회를 **함께** 엽니다." in response.content.decode()
    assert not Issue.objects.exists()


def test_html_and_scripts_in_the_description_are_stored_but_never_run(client, alice):
    client.force_login(alice)
    client.post(
        reverse("issues:create"),
        _form_data(alice.agency, description="<script>alert(1)</script>[x](javascript:alert(2))"),
    )
    issue = Issue.objects.get()

    body = client.get(issue.get_absolute_url()).content.decode()

    assert issue.description.startswith("<script>")  # nothing the user wrote is lost
    assert "<script>alert(1)" not in body
    assert 'href="javascript:' not in body


def test_an_edit_records_every_changed_field_on_the_timeline(client, alice, bob, carol, open_issue):
    client.force_login(alice)
    data = _form_data(
        alice.agency,
        title="새 제목",
        priority="urgent",
        cooperating_agencies=[carol.agency.pk],
        version=open_issue.version,
    )

    response = client.post(reverse("issues:edit", args=[open_issue.pk]), data)

    assert response.status_code == 302
    open_issue.refresh_from_db()
    assert (open_issue.title, open_issue.priority, open_issue.version) == ("새 제목", "urgent", 2)
    changed = Event.objects.get(issue=open_issue, kind="changed")
    assert {c["field"] for c in changed.changes} >= {"title", "priority", "due_date", "description"}
    assert {
        "field": "title",
        "old": "인공지능을 활용한 민원 분석 협업",
        "new": "새 제목",
    } in changed.changes
    assert list(Cooperation.objects.filter(issue=open_issue).values_list("agency", flat=True)) == [
        carol.agency.pk
    ]
    kinds = list(open_issue.events.values_list("kind", flat=True))
    assert kinds[-2:] == ["cooperation_removed", "cooperation_requested"]


def test_a_stale_edit_is_refused_and_keeps_the_users_text(client, alice, hana, open_issue):
    """Two people edit at once: the second save must not overwrite the first."""
    client.force_login(hana)
    stale_version = open_issue.version
    client.post(
        reverse("issues:edit", args=[open_issue.pk]),
        _form_data(alice.agency, title="하나가 먼저 저장", version=stale_version),
    )

    client.force_login(alice)
    response = client.post(
        reverse("issues:edit", args=[open_issue.pk]),
        _form_data(
            alice.agency,
            title="앨리스의 늦은 저장",
            description="앨리스가 쓴 긴 설명",
            version=stale_version,
        ),
        headers={"accept-language": "en"},
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "Someone else saved this issue" in body
    assert "앨리스의 늦은 저장" in body and "앨리스가 쓴 긴 설명" in body
    open_issue.refresh_from_db()
    assert open_issue.title == "하나가 먼저 저장"
    # The form now carries the current version: saving again is a deliberate choice.
    assert response.context["form"]["version"].value() == str(open_issue.version)


def test_saving_again_after_a_conflict_applies_the_users_changes(client, alice, hana, open_issue):
    client.force_login(hana)
    client.post(
        reverse("issues:edit", args=[open_issue.pk]), _form_data(alice.agency, title="A", version=1)
    )
    client.force_login(alice)
    client.post(
        reverse("issues:edit", args=[open_issue.pk]), _form_data(alice.agency, title="B", version=1)
    )

    client.post(
        reverse("issues:edit", args=[open_issue.pk]), _form_data(alice.agency, title="B", version=2)
    )

    open_issue.refresh_from_db()
    assert (open_issue.title, open_issue.version) == ("B", 3)


def test_an_unchanged_past_due_date_does_not_block_an_edit(client, alice, open_issue):
    past = timezone.localdate() - datetime.timedelta(days=30)
    Issue.objects.filter(pk=open_issue.pk).update(due_date=past)
    client.force_login(alice)

    response = client.post(
        reverse("issues:edit", args=[open_issue.pk]),
        _form_data(alice.agency, title="기한은 그대로", due_date=past.isoformat(), version=1),
    )

    assert response.status_code == 302


def test_the_assignee_must_belong_to_the_lead_agency(client, alice, bob):
    client.force_login(alice)

    response = client.post(reverse("issues:create"), _form_data(alice.agency, assignee=bob.pk))

    assert "assignee" in response.context["form"].errors
