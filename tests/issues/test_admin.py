"""Django admin changes issues through the services, like the issue page does.

An administrator's correction is locked optimistically, lands on the
timeline, bumps the version and notifies the same people; cooperation
answers and comments are not edited in admin at all.
"""

import pytest
from django.urls import reverse

from issues import services
from issues.models import Event, EventKind, Issue, Notification

pytestmark = pytest.mark.django_db


def _change_url(issue) -> str:
    return reverse("admin:issues_issue_change", args=[issue.pk])


def _post_data(client, issue, **overrides) -> dict:
    """What the admin change form would send back unchanged, plus ``overrides``."""
    response = client.get(_change_url(issue))
    assert response.status_code == 200
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None:
            continue
        if isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        else:
            data[name] = field.widget.format_value(value) if hasattr(value, "isoformat") else value
    for formset in response.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_a_change_in_admin_is_on_the_timeline_bumps_the_version_and_notifies(
    client, superuser, open_issue, alice
):
    client.force_login(superuser)
    version = open_issue.version

    response = client.post(
        _change_url(open_issue),
        _post_data(client, open_issue, title="제목 정정", status="in_progress"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    issue = Issue.objects.get(pk=open_issue.pk)
    assert (issue.title, issue.status, issue.version) == ("제목 정정", "in_progress", version + 1)
    event = Event.objects.filter(issue=issue, kind=EventKind.CHANGED).get()
    assert event.actor == superuser
    assert {c["field"] for c in event.changes} == {"title", "status"}
    # A status change tells the lead agency, as the issue page would.
    assert Notification.objects.filter(event=event, recipient=alice).exists()


def test_adding_a_cooperating_agency_in_admin_asks_it_like_the_page(
    client, superuser, open_issue, agency_b, agency_c, carol
):
    client.force_login(superuser)

    client.post(
        _change_url(open_issue),
        _post_data(client, open_issue, cooperating=[agency_b.pk, agency_c.pk]),
    )

    request = Event.objects.get(issue=open_issue, kind=EventKind.COOPERATION_REQUESTED,
                                agency=agency_c)  # fmt: skip
    assert Notification.objects.filter(event=request, recipient=carol).exists()


def test_an_unchanged_save_records_nothing(client, superuser, open_issue):
    client.force_login(superuser)
    events = Event.objects.filter(issue=open_issue).count()

    client.post(_change_url(open_issue), _post_data(client, open_issue))

    assert Event.objects.filter(issue=open_issue).count() == events
    assert Issue.objects.get(pk=open_issue.pk).version == open_issue.version


def test_a_stale_admin_form_is_refused_and_keeps_what_was_typed(
    client, superuser, open_issue, alice
):
    client.force_login(superuser)
    data = _post_data(client, open_issue, title="관리자가 고친 제목")
    services.issue_update(
        issue=open_issue, actor=alice, expected_version=open_issue.version, title="실무자 제목"
    )

    response = client.post(_change_url(open_issue), data, headers={"accept-language": "en"})

    assert response.status_code == 200
    assert "Someone else saved this issue" in response.content.decode()
    assert 'value="관리자가 고친 제목"' in response.content.decode()
    assert Issue.objects.get(pk=open_issue.pk).title == "실무자 제목"


def test_issues_are_filed_on_the_site_not_in_admin(client, superuser):
    client.force_login(superuser)

    assert client.get(reverse("admin:issues_issue_add")).status_code == 403


def test_cooperation_answers_and_comments_are_read_only_in_admin(client, superuser, open_issue):
    cooperation = open_issue.cooperations.get()
    client.force_login(superuser)

    page = client.get(reverse("admin:issues_cooperation_change", args=[cooperation.pk]))
    posted = client.post(
        reverse("admin:issues_cooperation_change", args=[cooperation.pk]), {"status": "done"}
    )

    assert page.status_code == 200 and 'name="status"' not in page.content.decode()
    assert posted.status_code == 403
    assert client.get(reverse("admin:issues_comment_add")).status_code == 403


def test_the_admin_passes_django_system_checks():
    from django.core import checks

    assert [e for e in checks.run_checks() if e.level >= checks.ERROR] == []


def test_the_service_refuses_someone_without_the_admin_permission(alice, open_issue):
    with pytest.raises(services.PermissionDenied):
        services.issue_update_by_administrator(
            issue=open_issue, actor=alice, expected_version=open_issue.version, title="x"
        )


# --- the notification outbox in admin ------------------------------------------------


def _changelist(client, **params):
    return client.get(reverse("admin:issues_notification_changelist"), params)


def test_the_outbox_lists_each_notification_e_mail_with_its_state_and_last_error(
    client, superuser, open_issue, bob
):
    from issues.models import Notification

    row = Notification.objects.get(recipient=bob)
    Notification.objects.filter(pk=row.pk).update(
        attempts=2, last_error="SMTPServerDisconnected: Connection unexpectedly closed"
    )
    client.force_login(superuser)

    failing = _changelist(client, email="failing")
    sent = _changelist(client, email="sent")
    detail = client.get(reverse("admin:issues_notification_change", args=[row.pk]))

    assert list(failing.context["cl"].result_list) == [row]
    assert "Connection unexpectedly closed" in failing.content.decode()
    assert list(sent.context["cl"].result_list) == []
    assert "notification." in detail.content.decode()  # the Message-ID an operator can match


def test_retry_now_clears_the_backoff_and_the_next_sweep_sends_it(
    client, superuser, open_issue, bob, mailoutbox
):
    import datetime

    from django.utils import timezone

    from issues import notifications
    from issues.models import Notification

    row = Notification.objects.get(recipient=bob)
    Notification.objects.filter(pk=row.pk).update(
        attempts=5, next_attempt_at=timezone.now() + datetime.timedelta(hours=1)
    )
    assert notifications.deliver_due().sent == 0  # backing off
    client.force_login(superuser)

    response = client.post(
        reverse("admin:issues_notification_changelist"),
        {"action": "retry_now", "_selected_action": [row.pk]},
        follow=True,
        headers={"accept-language": "en"},
    )

    assert "1 message will be tried again by the sweep just queued." in response.content.decode()
    assert notifications.deliver_due().sent == 1
    assert [m.to for m in mailoutbox] == [[bob.email]]


def test_outbox_rows_cannot_be_edited_or_deleted_in_admin(client, superuser, open_issue, bob):
    from issues.models import Notification

    row = Notification.objects.get(recipient=bob)
    client.force_login(superuser)

    assert (
        client.post(reverse("admin:issues_notification_delete", args=[row.pk])).status_code == 403
    )
    assert client.get(reverse("admin:issues_notification_add")).status_code == 403
