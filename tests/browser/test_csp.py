"""Every page, as every role, under the Content-Security-Policy: nothing refused, nothing broken.

The policy allows scripts and styles from our static files only. A template
with an inline <script>, a style="" attribute or an event handler, htmx
injecting its indicator <style> or evaluating an expression, or KRDS needing
eval would show up here as a ``securitypolicyviolation`` event and a console
error: the walk collects both, for every page and every htmx interaction, and
fails on any. Then a failed htmx request must say so in the #htmx-error alert.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from issues import services
from meetings import services as meeting_services
from meetings.models import AgendaItemKind, Meeting, MeetingKind
from tests.browser.conftest import login
from tests.factories import TEST_PASSWORD
from tests.issues.samples import pdf_bytes

pytestmark = pytest.mark.django_db(transaction=True)

# Runs in every document before its own scripts (DevTools injects it, so the
# policy does not apply to it).
COLLECT_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__violations.push(
    event.violatedDirective + " blocked " + (event.blockedURI || "inline") + " at " +
    (event.sourceFile || document.location.pathname) + ":" + event.lineNumber
  );
});
"""


class Watch:
    """Collects policy violations, console errors and uncaught exceptions of one page."""

    def __init__(self, page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.add_init_script(COLLECT_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Permissions-Policy" in text:
            self.problems.append(f"console {message.type}: {text}")
        elif message.type == "error" and "status of 4" not in text:
            # 4xx answers are logged by Chromium as "Failed to load resource";
            # the walk provokes some on purpose. Everything else is a problem.
            self.problems.append(f"console error: {text}")

    def visit(self, url: str) -> None:
        response = self.page.goto(url)
        assert response is not None and response.status == 200, url
        assert "Content-Security-Policy" in {k.title(): v for k, v in response.headers.items()}
        self.check()

    def assert_clean(self) -> None:
        self.check()
        assert not self.problems, "\n".join(dict.fromkeys(self.problems))

    def check(self) -> None:
        """Collect what the current document recorded so far."""
        self.page.wait_for_load_state("networkidle")
        recorded = self.page.evaluate("window.__violations || []")
        self.problems += [f"violation on {self.page.url}: {v}" for v in recorded]
        self.page.evaluate("window.__violations = []")


@pytest.fixture
def new_page(browser):
    """``new_page(locale)``: a page in a browser context of its own, closed after the test."""
    contexts = []

    def make(locale: str = "ko-KR"):
        context = browser.new_context(locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def world(alice, bob, carol, hana, victor, minji, superuser, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    now = timezone.now()
    ours = services.issue_create(
        actor=alice,
        title="셔틀버스 공동 운영",
        description="**굵게**, [링크](https://example.go.kr)\n\n| 표 | 칸 |\n|---|---|\n| 1 | 2 |",
        lead_agency=alice.agency,
        cooperating_agencies=[bob.agency],
    )
    # Led by B with A asked to cooperate: Alice and Hana see the answer form.
    theirs = services.issue_create(
        actor=bob,
        title="나기관이 요청한 협조",
        lead_agency=bob.agency,
        cooperating_agencies=[alice.agency],
    )
    services.comment_create(issue=ours, actor=bob, body="- 의견 하나\n- 의견 둘")
    for number in range(30):  # enough for a second page of the list
        services.issue_create(actor=alice, title=f"목록 채우기 {number}", lead_agency=alice.agency)
    upcoming = Meeting.objects.create(
        kind=MeetingKind.VICE_HEADS,
        title="다가오는 부기관장 회의",
        starts_at=now + timedelta(days=10),
        ends_at=now + timedelta(days=10, hours=2),
    )
    upcoming.invited_agencies.set([alice.agency, bob.agency])
    held = Meeting.objects.create(
        kind=MeetingKind.HEADS,
        title="지난 기관장 회의",
        starts_at=now - timedelta(days=3),
        ends_at=now - timedelta(days=3, hours=-2),
    )
    held.invited_agencies.set([alice.agency, bob.agency])
    meeting_services.agenda_item_add(
        meeting=held,
        actor=minji,
        title="혁신 사례",
        presenting_agency=alice.agency,
        kind=AgendaItemKind.OTHER,
        issue=ours,
    )
    return {"ours": ours, "theirs": theirs, "upcoming": upcoming, "held": held}


def _walk_common(watch: Watch, base: str, world) -> None:
    """Pages every signed-in role reaches, with their htmx interactions."""
    page = watch.page
    year = timezone.localdate().year
    watch.visit(f"{base}/issues/")
    page.get_by_label("검색", exact=True).fill("셔틀")  # htmx, as one types
    page.wait_for_url("**/issues/?*q=*")
    watch.check()
    page.locator("#id_status").select_option("open")  # htmx on change
    page.wait_for_url("**status=open*")
    watch.check()
    watch.visit(f"{base}/issues/?page=2")
    page.locator(".krds-pagination a.page-navi.prev").click()  # htmx pagination
    watch.check()
    watch.visit(f"{base}{world['ours'].get_absolute_url()}")
    watch.visit(f"{base}/issues/new/")
    page.locator("#agency-filter").fill("나")  # app.js filter box
    watch.check()
    watch.visit(f"{base}/meetings/")
    watch.visit(f"{base}{world['upcoming'].get_absolute_url()}")
    watch.visit(f"{base}{world['held'].get_absolute_url()}")
    watch.visit(f"{base}/meetings/{world['held'].pk}/print/")
    watch.visit(f"{base}/performance/{year}/")
    watch.visit(f"{base}/performance/{year}/print/")
    watch.visit(f"{base}/notifications/")


def test_staff_pages_and_interactions_break_no_policy(new_page, live_server, world, alice):
    page = new_page()
    watch = Watch(page)
    login(page, live_server, "alice", TEST_PASSWORD)
    watch.check()
    _walk_common(watch, live_server.url, world)

    # The issue page's htmx forms: comment, status, attachment, cooperation answer.
    watch.visit(f"{live_server.url}{world['ours'].get_absolute_url()}")
    page.get_by_label("댓글", exact=True).fill("정책 위반 없는 댓글")
    page.get_by_role("button", name="댓글 등록").click()
    page.locator("#timeline").get_by_text("정책 위반 없는 댓글").wait_for()
    page.locator("#id_status").select_option("in_progress")
    page.get_by_role("button", name="상태 변경").click()
    page.locator("#status .flash").wait_for()
    page.locator("#id_file").set_input_files(
        files=[{"name": "회의자료.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}]
    )
    page.get_by_role("button", name="첨부하기", exact=True).click()
    page.locator("#attachments").get_by_text("회의자료.pdf").first.wait_for()
    watch.check()
    watch.visit(f"{live_server.url}{world['theirs'].get_absolute_url()}")
    page.locator("#cooperations label").filter(has_text="수락").click()
    page.get_by_role("button", name="답변 보내기").click()
    page.locator("#cooperations .flash").wait_for()
    watch.check()
    watch.visit(f"{live_server.url}{world['ours'].get_absolute_url()}edit/")
    watch.visit(f"{live_server.url}/meetings/")
    page.get_by_role("button", name="내 캘린더 주소 만들기").click()  # htmx
    page.locator("#calendar-feed-url").wait_for()
    watch.check()

    watch.assert_clean()


@pytest.mark.parametrize("username", ["victor", "hana"])
def test_vice_head_and_head_pages_break_no_policy(
    new_page, live_server, world, victor, hana, username
):
    page = new_page()
    watch = Watch(page)
    login(page, live_server, username, TEST_PASSWORD)
    _walk_common(watch, live_server.url, world)

    # The "On the agenda" box proposes the issue to a meeting (htmx).
    watch.visit(f"{live_server.url}{world['ours'].get_absolute_url()}")
    page.get_by_role("button", name="안건 상정 요청").click()
    page.locator("#issue-agenda .flash").wait_for()
    watch.check()
    year = timezone.localdate().year
    watch.visit(f"{live_server.url}/performance/{year}/{world['ours'].lead_agency.slug}/")
    page.get_by_label("요약").fill("올해의 **성과**")
    page.get_by_role("button", name="임시 저장").click()
    watch.check()

    watch.assert_clean()


def test_mayor_office_pages_break_no_policy(new_page, live_server, world, minji):
    page = new_page()
    watch = Watch(page)
    login(page, live_server, "minji", TEST_PASSWORD)
    watch.check()  # landed on the dashboard
    page.locator("label[for=period-year]").click()  # htmx period switch
    page.wait_for_url("**period=year*")
    watch.check()
    page.locator(".agency-table thead a").first.click()  # htmx sort
    watch.check()
    watch.visit(f"{live_server.url}/dashboard/?print=1")
    _walk_common(watch, live_server.url, world)

    # Running a meeting: add an item, record the minutes and a decision (htmx).
    watch.visit(f"{live_server.url}{world['upcoming'].get_absolute_url()}")
    page.get_by_role("textbox", name="안건", exact=True).fill("새 안건")
    page.locator("#id_presenting_agency").select_option(index=1)
    page.get_by_role("button", name="안건에 추가").click()
    page.locator("#agenda").get_by_role("heading", name="새 안건").wait_for()
    watch.check()
    watch.visit(f"{live_server.url}{world['held'].get_absolute_url()}")
    page.get_by_role("textbox", name="회의록", exact=True).fill("# 회의록\n\n참석 기관 확인")
    page.get_by_role("button", name="회의록 저장").click()
    page.locator("#minutes .flash").wait_for()
    watch.check()

    watch.assert_clean()


def test_superuser_pages_and_admin_break_no_policy(new_page, live_server, world, superuser):
    page = new_page()
    watch = Watch(page)
    login(page, live_server, "root", TEST_PASSWORD)
    _walk_common(watch, live_server.url, world)
    watch.visit(f"{live_server.url}/admin/")
    watch.visit(f"{live_server.url}/admin/issues/issue/")
    watch.visit(f"{live_server.url}/admin/issues/issue/{world['ours'].pk}/change/")
    watch.visit(f"{live_server.url}/admin/meetings/meeting/{world['held'].pk}/change/")

    watch.assert_clean()


def test_the_login_page_breaks_no_policy(page, live_server):
    watch = Watch(page)
    watch.visit(f"{live_server.url}/accounts/login/")

    watch.assert_clean()


# --- A failed htmx request says so ---------------------------------------------------


def _alert(page):
    return page.locator("#htmx-error")


def test_a_comment_on_an_issue_restricted_meanwhile_says_it_is_no_longer_available(
    new_page, live_server, alice, bob
):
    issue = services.issue_create(
        actor=alice, title="곧 비공개될 현안", lead_agency=alice.agency,
        cooperating_agencies=[bob.agency],
    )  # fmt: skip
    page = new_page()
    login(page, live_server, "bob", TEST_PASSWORD)
    page.goto(f"{live_server.url}{issue.get_absolute_url()}")
    assert _alert(page).is_hidden()

    # Meanwhile agency A withdraws the request and restricts the issue.
    services.issue_update(
        issue=issue,
        actor=alice,
        expected_version=issue.version,
        cooperating_agencies=[],
        visibility="restricted",
    )
    page.get_by_label("댓글", exact=True).fill("이 댓글은 저장될 수 없습니다")
    page.get_by_role("button", name="댓글 등록").click()

    _alert(page).get_by_text("이 항목을 더 이상 볼 수 없습니다").wait_for()
    assert page.get_by_role("alert").filter(has_text="더 이상 볼 수 없습니다").is_visible()
    # What was typed is still in the box.
    assert page.get_by_label("댓글", exact=True).input_value() == "이 댓글은 저장될 수 없습니다"

    # Access comes back; the next request that succeeds clears the alert.
    issue.refresh_from_db()
    services.issue_update(
        issue=issue,
        actor=alice,
        expected_version=issue.version,
        cooperating_agencies=[bob.agency],
        visibility="restricted",
    )
    page.get_by_role("button", name="댓글 등록").click()
    page.locator("#timeline").get_by_text("이 댓글은 저장될 수 없습니다").wait_for()
    assert _alert(page).is_hidden()


def test_an_upload_over_the_server_limit_says_it_is_too_large_in_english(
    new_page, live_server, alice, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    settings.REQUEST_BODY_MAX_BYTES = 50_000  # the server's cap, lowered for the test
    issue = services.issue_create(actor=alice, title="Upload", lead_agency=alice.agency)
    page = new_page("en-US")
    login(page, live_server, "alice", TEST_PASSWORD, english=True)
    page.goto(f"{live_server.url}{issue.get_absolute_url()}")

    page.locator("#id_file").set_input_files(
        files=[
            {
                "name": "big.pdf",
                "mimeType": "application/pdf",
                "buffer": pdf_bytes() + b" " * 100_000,
            }
        ]
    )
    with page.expect_response("**/attachments/") as answer:
        page.get_by_role("button", name="Attach", exact=True).click()

    assert answer.value.status == 413
    _alert(page).get_by_text("What you sent is too large").wait_for()


def test_a_file_over_20_mb_is_refused_before_it_is_uploaded(new_page, live_server, alice):
    issue = services.issue_create(actor=alice, title="큰 파일", lead_agency=alice.agency)
    page = new_page()
    login(page, live_server, "alice", TEST_PASSWORD)
    page.goto(f"{live_server.url}{issue.get_absolute_url()}")
    uploads = []
    page.on("request", lambda r: uploads.append(r) if r.method == "POST" else None)
    # Stand-in for a 21 MB file: the same check, with the limit the page was given lowered.
    page.locator("#id_file").evaluate("input => input.setAttribute('data-max-bytes', '1000')")

    page.locator("#id_file").set_input_files(
        files=[{"name": "큰파일.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes() * 10}]
    )
    page.get_by_role("button", name="첨부하기", exact=True).click()

    _alert(page).get_by_text("보낸 내용이 너무 큽니다").wait_for()
    assert uploads == []


def test_a_network_failure_says_the_server_could_not_be_reached(new_page, live_server, alice, bob):
    issue = services.issue_create(
        actor=alice, title="연결 끊김", lead_agency=alice.agency, cooperating_agencies=[bob.agency]
    )
    page = new_page()
    login(page, live_server, "bob", TEST_PASSWORD)
    page.goto(f"{live_server.url}{issue.get_absolute_url()}")
    page.route("**/comments/", lambda route: route.abort("connectionrefused"))

    page.get_by_label("댓글", exact=True).fill("보내지지 않을 댓글")
    page.get_by_role("button", name="댓글 등록").click()

    _alert(page).get_by_text("서버에 연결할 수 없습니다").wait_for()
    page.locator(".htmx-error__close").click()
    assert _alert(page).is_hidden()
