"""Issues shared by the issue tests: one open to all, one restricted.

Both are led by agency A (Alice's) with agency B (Bob's) asked to cooperate;
Carol's agency C is not involved.
"""

import pytest

from issues import services
from tests.issues.samples import pdf_bytes, uploaded


@pytest.fixture
def open_issue(alice, bob):
    return services.issue_create(
        actor=alice,
        title="인공지능을 활용한 민원 분석 협업",
        description="도시철도 **민원 데이터**를 함께 분석합니다.",
        lead_agency=alice.agency,
        cooperating_agencies=[bob.agency],
        visibility="all",
    )


@pytest.fixture
def restricted_issue(alice, bob):
    return services.issue_create(
        actor=alice,
        title="비공개 예산 협의 안건",
        description="관계 기관만 봅니다.",
        lead_agency=alice.agency,
        cooperating_agencies=[bob.agency],
        visibility="restricted",
    )


@pytest.fixture
def attachment_on(alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path

    def attach(issue):
        return services.attachment_add(
            issue=issue, actor=alice, uploaded_file=uploaded("회의자료.pdf", pdf_bytes())
        )

    return attach
