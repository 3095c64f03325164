"""Personas and helpers for the meetings tests.

Besides the shared personas (Hana heads agency A, Victor is its vice-head,
Minji works in the Mayor's office): Hyejin heads agency B and Jiho is its
vice-head; Sora heads agency C.
"""

import asyncio
import socket
from datetime import timedelta
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller

from agencies.models import Role
from meetings.models import Meeting, MeetingKind
from tests.factories import UserFactory


@pytest.fixture
def hyejin(agency_b):
    return UserFactory(username="hyejin", agency=agency_b, role=Role.HEAD)


@pytest.fixture
def jiho(agency_b):
    return UserFactory(username="jiho", agency=agency_b, role=Role.VICE_HEAD)


@pytest.fixture
def sora(agency_c):
    return UserFactory(username="sora", agency=agency_c, role=Role.HEAD)


@pytest.fixture
def make_meeting(db):
    """``make_meeting(starts_at=..., kind=..., invited=[...])``: a scheduled two-hour meeting."""

    def make(*, starts_at, kind=MeetingKind.VICE_HEADS, invited=(), **fields):
        fields.setdefault("title", "제3차 부기관장 회의")
        fields.setdefault("location", "광주광역시청 3층 중회의실")
        fields.setdefault("chair", "행정부시장")
        meeting = Meeting.objects.create(
            kind=kind, starts_at=starts_at, ends_at=starts_at + timedelta(hours=2), **fields
        )
        meeting.invited_agencies.set(invited)
        return meeting

    return make


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
