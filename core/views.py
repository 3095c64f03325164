"""View helpers for pages made of htmx fragments. Imports no app of ours.

A page such as an issue or a meeting is one template whose sections are
named partials (django-template-partials). A form posted in one section is
answered, without htmx, by the whole page (errors) or a redirect (success,
POST/redirect/GET); with htmx, by that section alone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import trigger_client_event


def page_or_partial(
    request: HttpRequest, template: str, partial: str, context: dict
) -> HttpResponse:
    """The whole page, or with htmx only its named partial.

    Always 200, also for a form with errors: htmx 2 does not swap 4xx/5xx
    answers, and the person must see the message next to the field.
    """
    if request.htmx:
        template = f"{template}#{partial}"
    return render(request, template, context)


def after_change(
    request: HttpRequest,
    *,
    message: str,
    page_url: str,
    template: str,
    partial: str,
    context: Callable[[], dict],
    event: str = "",
) -> HttpResponse:
    """The answer to a successful POST from one section of a page.

    Without htmx: the message for the next page, and a redirect to the page.
    With htmx: the section refreshed from ``context()`` (called only then)
    with the message in it, and ``event`` for other sections that listen
    (``hx-trigger="<event> from:body"``).
    """
    if not request.htmx:
        messages.success(request, message)
        return redirect(page_url)
    response = render(request, f"{template}#{partial}", context() | {"flash": message})
    return trigger_client_event(response, event) if event else response
