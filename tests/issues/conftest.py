"""Issues shared by the issue tests: one open to all, one restricted.

Both are led by agency A (Alice's) with agency B (Bob's) asked to cooperate;
Carol's agency C is not involved.
"""

import asyncio
import socket
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller

from core import broker
from issues import services
from tests.issues.samples import pdf_bytes, uploaded


@pytest.fixture(autouse=True)
def _broker_not_paused():
    """Each test starts with core.broker's per-process breaker closed, as a fresh
    process would: a test that took the broker down must not silence the next."""
    broker.breaker.reset()
    yield
    broker.breaker.reset()


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


# --- a real SMTP server ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpCollector:
    """An aiosmtpd handler that keeps every envelope, optionally slowly or refusing some."""

    def __init__(self) -> None:
        self.envelopes = []
        self.delay = 0.0
        self.refused: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refused:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.delay:
            await asyncio.sleep(self.delay)
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def smtp_settings(settings, port: int) -> None:
    """Send Django's mail by SMTP to 127.0.0.1:``port``."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1 that Django's SMTP backend talks to.

    ``smtp_server.envelopes`` holds what it accepted; ``smtp_server.handler``
    lets a test slow it down (``delay``) or refuse addresses (``refused``).
    """
    handler = SmtpCollector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    smtp_settings(settings, controller.port)
    try:
        yield SimpleNamespace(envelopes=handler.envelopes, handler=handler, port=controller.port)
    finally:
        controller.stop()
