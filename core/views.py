"""View helpers for pages made of htmx fragments. Imports no app of ours.

A page such as an issue or a meeting is one template whose sections are
named partials (django-template-partials). A form posted in one section is
answered, without htmx, by the whole page (errors) or a redirect (success,
POST/redirect/GET); with htmx, by that section alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import trigger_client_event

from .form_services import run_service


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


@dataclass(frozen=True)
class SectionedPage:
    """One object's page (an issue, a meeting) whose sections each post a form.

    ``context(request, obj, **forms)`` is the page's context, with ``forms``
    (bound, with errors) in place of the empty ones; ``reload(request, pk)``
    reads the object again, permissions checked, to show it after a change.
    """

    template: str
    context: Callable[..., dict]
    reload: Callable[[HttpRequest, int], Any]
    # What the page's other sections listen for after a change ("" for nothing).
    event: str = ""
    # Whether the redirect after a change (without htmx) goes to the section.
    to_section: bool = False

    def changed(self, request: HttpRequest, obj: Any, section: str, message: str) -> HttpResponse:
        """The answer to a change made in ``section`` (see ``after_change``)."""
        return after_change(
            request,
            message=message,
            page_url=obj.get_absolute_url() + (f"#{section}" if self.to_section else ""),
            template=self.template,
            partial=section,
            context=lambda: self.context(request, self.reload(request, obj.pk)),
            event=self.event,
        )

    def with_errors(self, request: HttpRequest, obj: Any, section: str, **forms) -> HttpResponse:
        """The page, or with htmx the section, showing ``forms`` with their errors."""
        return page_or_partial(request, self.template, section, self.context(request, obj, **forms))

    def submit(
        self,
        request: HttpRequest,
        obj: Any,
        section: str,
        form: forms.BaseForm,
        service: Callable[[dict], object],
        message: str,
        *,
        shown_as: str,
        among: int | None = None,
    ) -> HttpResponse:
        """Run ``service`` on the valid ``form`` (``run_service``), then answer
        with the change made, or with the form and its errors: the context's
        ``shown_as``, or its ``shown_as[among]`` for one form of several."""
        if run_service(form, service):
            return self.changed(request, obj, section, message)
        shown = form if among is None else {among: form}
        return self.with_errors(request, obj, section, **{shown_as: shown})
