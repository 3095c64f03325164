from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency
from core.form_fields import text_area_field
from core.forms import KRDSFormMixin, SafeInputMixin
from issues.forms import AgencyChoiceField

from .models import AgendaItem, AgendaItemKind, Meeting, PerformanceReport


class MeetingChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Meeting) -> str:
        starts_at = timezone.localtime(obj.starts_at)
        return f"{obj.title} ({starts_at:%Y-%m-%d %H:%M})"


class AgendaProposalForm(SafeInputMixin, KRDSFormMixin, forms.Form):
    """Put an issue on an upcoming meeting; the choices come from the selector."""

    meeting = MeetingChoiceField(label=_("Meeting"), queryset=Meeting.objects.none())

    def __init__(self, *args, meetings, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["meeting"].queryset = meetings
        self.fields["meeting"].empty_label = None


class AgendaItemAddForm(SafeInputMixin, KRDSFormMixin, forms.Form):
    """The Mayor's office adds an item of its own, e.g. an organization's innovation case."""

    title = forms.CharField(label=_("Agenda item"), max_length=200)
    kind = forms.ChoiceField(
        label=_("Kind of item"),
        choices=AgendaItemKind.choices,
        initial=AgendaItemKind.INNOVATION_CASE,
    )
    presenting_agency = AgencyChoiceField(
        label=_("Presenting organization"), queryset=Agency.objects.none()
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["presenting_agency"].queryset = Agency.objects.active()


class AgendaDecisionForm(SafeInputMixin, KRDSFormMixin, forms.Form):
    decision = forms.CharField(
        label=_("Decision"), max_length=10_000, widget=forms.Textarea(attrs={"rows": 3})
    )
    follow_up_due = forms.DateField(
        label=_("Follow-up due date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Optional. Becomes the issue's due date."),
    )

    def __init__(self, *args, item: AgendaItem, **kwargs) -> None:
        kwargs.setdefault("prefix", f"d{item.pk}")
        kwargs.setdefault(
            "initial", {"decision": item.decision, "follow_up_due": item.follow_up_due}
        )
        super().__init__(*args, **kwargs)
        self.item = item

    def clean_follow_up_due(self):
        due = self.cleaned_data.get("follow_up_due")
        # An unchanged date may have passed since; only a new one must lie ahead.
        if due and due != self.item.follow_up_due and due < timezone.localdate():
            raise forms.ValidationError(_("The follow-up date cannot be in the past."))
        return due


class MeetingCancelForm(SafeInputMixin, KRDSFormMixin, forms.Form):
    confirm = forms.BooleanField(
        label=_("Yes, cancel this meeting and notify those already reminded"), required=True
    )


class MinutesForm(SafeInputMixin, KRDSFormMixin, forms.Form):
    minutes = text_area_field(_("Minutes"), rows=10, max_length=100_000, markdown=True)
    attended_agencies = forms.ModelMultipleChoiceField(
        label=_("Organizations present"),
        queryset=Agency.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        # Django's own messages name the refused primary key, which says nothing to a person.
        error_messages={
            "invalid_choice": _("Only invited organizations can have been present."),
            "invalid_pk_value": _("Only invited organizations can have been present."),
        },
    )

    def __init__(self, *args, meeting, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only the invited organizations can have been present.
        field = self.fields["attended_agencies"]
        field.queryset = meeting.invited_agencies.all()
        field.label_from_instance = lambda agency: agency.name


class PerformanceReportForm(SafeInputMixin, KRDSFormMixin, forms.Form):
    summary = text_area_field(_("Summary"), rows=5, markdown=True, required=False)
    achievements = text_area_field(_("Achievements"), rows=8, required=False)
    next_year_plan = text_area_field(_("Next year's plan"), rows=6, required=False)
    # 0 for a report not written yet; see services.performance_report_save.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, report: PerformanceReport | None = None, **kwargs) -> None:
        if report is not None:
            kwargs.setdefault(
                "initial",
                {
                    "summary": report.summary,
                    "achievements": report.achievements,
                    "next_year_plan": report.next_year_plan,
                    "version": report.version,
                },
            )
        super().__init__(*args, **kwargs)
        if report is None:
            self.fields["version"].initial = 0


# --- The dashboard's period (query string, never a POST) ------------------------

PERIODS = {
    "month": _("This month"),
    "quarter": _("This quarter"),
    "year": _("This year"),
    "custom": _("Custom range"),
}


@dataclass(frozen=True)
class Period:
    key: str
    start: date
    end: date

    @property
    def label(self) -> str:
        return PERIODS[self.key]

    @property
    def query(self) -> dict[str, str]:
        """The query-string parameters that ask for this period again."""
        if self.key == "custom":
            return {"period": self.key, "start": f"{self.start}", "end": f"{self.end}"}
        return {"period": self.key}


def dashboard_period(params: Mapping[str, str], today: date) -> tuple[Period, list[str]]:
    """The period asked for in the query string; bad input falls back to this month."""
    key = params.get("period", "month")
    if key == "quarter":
        first_month = 3 * ((today.month - 1) // 3) + 1
        return Period(key, today.replace(month=first_month, day=1), today), []
    if key == "year":
        return Period(key, today.replace(month=1, day=1), today), []
    errors = []
    if key == "custom":
        try:
            start = date.fromisoformat(params.get("start", ""))
            end = date.fromisoformat(params.get("end", ""))
        except ValueError:
            errors.append(_("Enter both dates of the custom range as YYYY-MM-DD."))
        else:
            if start > end:
                errors.append(_("The start of the range must not be after its end."))
            elif start.year < 2000 or end.year > 2100:
                errors.append(_("Enter a date between 2000 and 2100."))
            else:
                return Period(key, start, end), errors
    return Period("month", today.replace(day=1), today), errors
