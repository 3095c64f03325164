"""Personas shared by every test.

Alice works at agency A, Bob at agency B, Carol at agency C (an outsider to
most issues); Hana heads agency A, Victor is its vice-head; Minji works in
the Mayor's office at the city hall.
"""

import pytest

from agencies.models import Agency, Role
from tests.factories import AgencyFactory, UserFactory


@pytest.fixture
def city(db):
    return AgencyFactory(
        slug="gwangju-city",
        name_ko="광주광역시청",
        name_en="Gwangju City Hall",
        kind=Agency.Kind.CITY,
    )


@pytest.fixture
def agency_a(db):
    return AgencyFactory(slug="agency-a", name_ko="광주가기관", name_en="Agency A")


@pytest.fixture
def agency_b(db):
    return AgencyFactory(slug="agency-b", name_ko="광주나기관", name_en="Agency B")


@pytest.fixture
def agency_c(db):
    return AgencyFactory(slug="agency-c", name_ko="광주다기관", name_en="Agency C")


@pytest.fixture
def alice(agency_a):
    return UserFactory(username="alice", agency=agency_a, role=Role.STAFF)


@pytest.fixture
def bob(agency_b):
    return UserFactory(username="bob", agency=agency_b, role=Role.STAFF)


@pytest.fixture
def carol(agency_c):
    return UserFactory(username="carol", agency=agency_c, role=Role.STAFF)


@pytest.fixture
def hana(agency_a):
    return UserFactory(username="hana", agency=agency_a, role=Role.HEAD)


@pytest.fixture
def victor(agency_a):
    return UserFactory(username="victor", agency=agency_a, role=Role.VICE_HEAD)


@pytest.fixture
def minji(city):
    return UserFactory(username="minji", agency=city, role=Role.MAYOR_OFFICE)


@pytest.fixture
def superuser(city):
    user = UserFactory(username="root", agency=city, role=Role.MAYOR_OFFICE)
    user.is_staff = user.is_superuser = True
    user.save()
    return user


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 is slow by design; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_local_cache():
    """Forget what the previous test left in each process's "local" cache.

    It holds reference data such as the list's menus (issues.selectors.menu_options),
    cleared when a row is saved; a rolled-back test saves nothing, so its rows
    would otherwise outlive it there.
    """
    from django.core.cache import caches

    caches["local"].clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Start every test in the default language (Korean), as a new request would.

    Django keeps the active language per thread, so without this a test would
    see whatever language the previous test's request left behind.
    """
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def throwaway_redis(tmp_path):
    """A real redis-server of the test's own, on a free port, that the test may stop or hang.

    Yields a small handle: ``url``, ``hang()`` (SIGSTOP: connections are
    accepted by the kernel but never answered), ``resume()`` and ``stop()``
    (refused). Skips when redis-server is not installed.
    """
    import shutil
    import signal
    import socket
    import subprocess
    import time

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)

    class Handle:
        url = f"redis://127.0.0.1:{port}/0"

        @staticmethod
        def hang() -> None:
            process.send_signal(signal.SIGSTOP)

        @staticmethod
        def resume() -> None:
            process.send_signal(signal.SIGCONT)

        @staticmethod
        def stop() -> None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            process.wait(timeout=10)

    yield Handle
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def mail_everything_at_once(monkeypatch):
    """Every kind of notice by e-mail at once unless a person chose otherwise.

    For the tests of the e-mail outbox itself, written when every notice was
    mailed: by default (issue 9) comments, status changes and decisions wait
    for the digest. tests/agencies/test_notice_settings.py tests the defaults.
    """
    from agencies.models import DEFAULT_DELIVERY, Delivery

    for kind in list(DEFAULT_DELIVERY):
        monkeypatch.setitem(DEFAULT_DELIVERY, kind, Delivery.IMMEDIATE)
