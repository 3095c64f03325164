import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext
from django_htmx.http import HttpResponseClientRedirect


class UserLanguageMiddleware:
    """Apply a signed-in user's saved language.

    Order of precedence: the language cookie (set by the switch in the
    header), then the user's saved preference, then the browser's
    Accept-Language (already applied by LocaleMiddleware), then Korean.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.preferred_language
            and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES
        ):
            translation.activate(user.preferred_language)
            request.LANGUAGE_CODE = user.preferred_language
        return self.get_response(request)


class HtmxLoginRedirectMiddleware:
    """Send htmx requests of an expired session to the login page as a whole page.

    htmx follows a 302 silently and would swap the login form into whatever
    fragment was being refreshed; HX-Redirect makes the browser navigate.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            getattr(request, "htmx", False)
            and response.status_code == 302
            and response.get("Location", "").startswith(resolve_url(settings.LOGIN_URL))
        ):
            return HttpResponseClientRedirect(response["Location"])
        return response


# --- Session time limits -------------------------------------------------------

SESSION_STARTED_KEY = "_session_started_at"
SESSION_ACTIVE_KEY = "_session_active_at"
# Recording activity writes the session row; once a minute is plenty for a
# 30-minute timeout and spares an UPDATE on every request. The remaining time
# the page is told is computed from what was written, so it is never too long.
ACTIVITY_RESOLUTION_SECONDS = 60
# Sent on every signed-in response, so session.js can restart its countdown
# after an htmx request without asking the server again.
REMAINING_HEADER = "X-Session-Remaining"


@dataclass(frozen=True)
class SessionClock:
    """Seconds left before a session ends, by either limit."""

    idle_remaining: int
    absolute_remaining: int
    # session.js warns this long before the end (the dialog offering to extend).
    warning_seconds: int

    @property
    def expired_by(self) -> str | None:
        """Which limit has ended the session: "idle", "absolute", or None."""
        if self.absolute_remaining <= 0:
            return "absolute"
        if self.idle_remaining <= 0:
            return "idle"
        return None

    def as_dict(self) -> dict[str, int]:
        return {
            "idle_remaining": max(self.idle_remaining, 0),
            "absolute_remaining": max(self.absolute_remaining, 0),
        }


def session_started(session: SessionBase) -> None:
    """Start both clocks: at login, and for a session from before these limits."""
    now = int(time.time())
    session[SESSION_STARTED_KEY] = now
    session[SESSION_ACTIVE_KEY] = now


def start_session_clocks(sender: object, request: HttpRequest | None, **kwargs: object) -> None:
    """user_logged_in receiver: a new login starts both clocks afresh."""
    if request is not None and hasattr(request, "session"):
        session_started(request.session)


def session_record_activity(session: SessionBase, *, force: bool = False) -> None:
    """Restart the idle clock (at most once a minute unless forced)."""
    now = int(time.time())
    if force or now - session.get(SESSION_ACTIVE_KEY, 0) >= ACTIVITY_RESOLUTION_SECONDS:
        session[SESSION_ACTIVE_KEY] = now


def session_clock(session: SessionBase) -> SessionClock:
    """How long this session has left, from what the session has recorded."""
    now = int(time.time())
    started = session.get(SESSION_STARTED_KEY, now)
    active = session.get(SESSION_ACTIVE_KEY, now)
    return SessionClock(
        idle_remaining=active + settings.SESSION_IDLE_MINUTES * 60 - now,
        absolute_remaining=started + settings.SESSION_MAX_HOURS * 60 * 60 - now,
        warning_seconds=settings.SESSION_WARNING_SECONDS,
    )


def session_expired_message(reason: str) -> str:
    if reason == "idle":
        minutes = settings.SESSION_IDLE_MINUTES
        return ngettext(
            "Your session ended after %(minutes)d minute without activity. Please log in again.",
            "Your session ended after %(minutes)d minutes without activity. Please log in again.",
            minutes,
        ) % {"minutes": minutes}
    hours = settings.SESSION_MAX_HOURS
    return ngettext(
        "Your session ended because you have been logged in for %(hours)d hour, the longest "
        "a session may last. Please log in again.",
        "Your session ended because you have been logged in for %(hours)d hours, the longest "
        "a session may last. Please log in again.",
        hours,
    ) % {"hours": hours}


class SessionTimeoutMiddleware:
    """End a signed-in session after SESSION_IDLE_MINUTES without a request,
    and SESSION_MAX_HOURS after login in any case.

    The clocks live in the session itself (in the database), so they hold
    whatever happens to the cache. An ended session is logged out and the
    request goes to the login page with a message saying why; for an htmx
    request HtmxLoginRedirectMiddleware (outside this one) turns that redirect
    into HX-Redirect, so the login page is never swapped into a fragment.
    The status endpoint session.js asks before warning does not count as
    activity: otherwise asking would keep the session alive for ever.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        if request.path == reverse("session_status"):
            return self.get_response(request)

        session = request.session
        if SESSION_STARTED_KEY not in session:
            session_started(session)
        reason = session_clock(session).expired_by
        if reason:
            return self._end_session(request, reason)

        session_record_activity(session)
        request.session_clock = session_clock(session)
        response = self.get_response(request)
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            clock = session_clock(request.session)
            response[REMAINING_HEADER] = f"{clock.idle_remaining},{clock.absolute_remaining}"
        return response

    def _end_session(self, request: HttpRequest, reason: str) -> HttpResponse:
        next_url = self._page_to_return_to(request)
        logout(request)
        messages.warning(request, session_expired_message(reason))
        return redirect_to_login(next_url) if next_url else redirect(settings.LOGIN_URL)

    @staticmethod
    def _page_to_return_to(request: HttpRequest) -> str | None:
        """The page to show after logging in again: the one the person was on.

        For htmx that is the page around the fragment, not the fragment; for a
        form post, the page the form was on (the post itself cannot be replayed).
        """
        if getattr(request, "htmx", False):
            candidate = request.htmx.current_url_abs_path
        elif request.method in ("GET", "HEAD"):
            candidate = request.get_full_path()
        else:
            candidate = request.headers.get("Referer")
        if not candidate or not url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return None
        parts = urlsplit(candidate)
        if parts.path == resolve_url(settings.LOGIN_URL):
            return None  # "log in, then go to the login page" would loop
        return f"{parts.path}?{parts.query}" if parts.query else parts.path
