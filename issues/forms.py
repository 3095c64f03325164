from __future__ import annotations

import functools
from datetime import date
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency, User
from core.form_fields import text_area_field
from core.forms import KRDSFormMixin, SafeInputMixin, parse_id

from .filetypes import MAX_ATTACHMENT_SIZE
from .models import Category, Cooperation, CooperationStatus, Issue, Priority, Status
from .selectors import DEFAULT_SORT, IssueFilters, menu_options


class AgencyChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Agency) -> str:
        return obj.name


class AgencyMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Agency) -> str:
        return obj.name


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Category) -> str:
        return obj.name


class IssueForm(SafeInputMixin, KRDSFormMixin, forms.ModelForm):
    """File or edit an issue. Choices are limited to what the user may pick."""

    description = text_area_field(_("Description"), rows=8, markdown=True, required=False)
    lead_agency = AgencyChoiceField(label=_("Lead agency"), queryset=Agency.objects.none())
    cooperating_agencies = AgencyMultipleChoiceField(
        label=_("Cooperating agencies"),
        queryset=Agency.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_(
            "Organizations whose cooperation this issue needs; each one is asked to answer. "
            "Hold Ctrl (⌘ on a Mac) to choose several."
        ),
    )
    category = CategoryChoiceField(
        label=_("Category"), queryset=Category.objects.all(), required=False
    )
    due_date = forms.DateField(
        label=_("Due date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    # Not a field of the issue: the deadline of the cooperation requests this
    # save adds (each request has its own, which its agency may move later).
    reply_by = forms.DateField(
        label=_("Reply by"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_(
            "The reply deadline for newly added cooperating agencies. "
            "Empty: %(days)s working days from today."
        ),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Issue
        fields = [
            "title",
            "description",
            "lead_agency",
            "cooperating_agencies",
            "category",
            "priority",
            "visibility",
            "due_date",
            "assignee",
        ]

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        active = Agency.objects.active()
        if user.reads_everything:
            self.fields["lead_agency"].queryset = active
        else:
            self.fields["lead_agency"].queryset = active.filter(pk=user.agency_id)
            self.fields["lead_agency"].initial = user.agency_id
        self.fields["cooperating_agencies"].queryset = active.public_organizations()
        self.fields["title"].widget.attrs["maxlength"] = 200
        self.fields["reply_by"].help_text = self.fields["reply_by"].help_text % {
            "days": settings.COOPERATION_REPLY_WORKING_DAYS
        }
        lead_id = self._lead_agency_id()
        self.fields["assignee"].queryset = User.objects.filter(
            agency_id=lead_id, is_active=True
        ).order_by("last_name", "first_name", "username")
        self.fields["assignee"].label_from_instance = lambda u: u.display_name
        self.fields["assignee"].help_text = _("A person of the lead agency (optional).")
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version
            self.initial.setdefault(
                "cooperating_agencies",
                list(self.instance.cooperations.values_list("agency_id", flat=True)),
            )

    def _lead_agency_id(self):
        if self.is_bound:
            # Raw input: the field validates it later; here it only narrows choices.
            return parse_id(self.data.get("lead_agency"))
        if self.instance.pk:
            return self.instance.lead_agency_id
        return self.user.agency_id

    def clean_due_date(self):
        due = self.cleaned_data.get("due_date")
        unchanged = self.instance.pk and due == self.instance.due_date
        if due and not unchanged and due < timezone.localdate():
            raise forms.ValidationError(_("The due date cannot be in the past."))
        return due

    def clean_reply_by(self):
        reply_by = self.cleaned_data.get("reply_by")
        if reply_by and reply_by < timezone.localdate():
            raise forms.ValidationError(_("The reply deadline cannot be in the past."))
        return reply_by

    def clean(self):
        cleaned = super().clean()
        lead = cleaned.get("lead_agency")
        cooperating = cleaned.get("cooperating_agencies") or []
        if lead and any(a.pk == lead.pk for a in cooperating):
            self.add_error(
                "cooperating_agencies",
                _("The lead agency cannot also be a cooperating agency."),
            )
        assignee = cleaned.get("assignee")
        if lead and assignee and assignee.agency_id != lead.pk:
            self.add_error("assignee", _("The assignee must belong to the lead agency."))
        return cleaned


class StatusForm(SafeInputMixin, KRDSFormMixin, forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Status.choices)
    version = forms.IntegerField(widget=forms.HiddenInput)


class CommentForm(SafeInputMixin, KRDSFormMixin, forms.Form):
    body = text_area_field(_("Comment"), rows=4, max_length=10_000, markdown=True)


class CooperationAnswerForm(SafeInputMixin, KRDSFormMixin, forms.Form):
    status = forms.ChoiceField(
        label=_("Answer"),
        choices=[
            (CooperationStatus.ACCEPTED, _("Accept")),
            (CooperationStatus.DECLINED, _("Decline")),
            (CooperationStatus.DONE, _("Done")),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class CooperationUpdateForm(SafeInputMixin, KRDSFormMixin, forms.Form):
    """The cooperating agency's person in charge and reply deadline.

    The hidden ``expected_*`` fields carry the values the form was loaded
    with: the service refuses the save if someone changed them meanwhile.
    """

    assignee = forms.ModelChoiceField(
        label=_("Person in charge"), queryset=User.objects.none(), required=False
    )
    reply_by = forms.DateField(label=_("Reply by"), widget=forms.DateInput(attrs={"type": "date"}))
    expected_assignee = forms.IntegerField(widget=forms.HiddenInput, required=False)
    expected_reply_by = forms.DateField(widget=forms.HiddenInput)

    def __init__(self, *args, cooperation: Cooperation, **kwargs) -> None:
        kwargs.setdefault(
            "initial",
            {
                "assignee": cooperation.assignee_id,
                "reply_by": cooperation.reply_by,
                "expected_assignee": cooperation.assignee_id,
                "expected_reply_by": cooperation.reply_by,
            },
        )
        super().__init__(*args, **kwargs)
        self.cooperation = cooperation
        # Only the cooperating agency's own active people (a plain
        # ModelChoiceField would accept any user's id).
        self.fields["assignee"].queryset = User.objects.filter(
            agency_id=cooperation.agency_id, is_active=True
        ).order_by("last_name", "first_name", "username")
        self.fields["assignee"].label_from_instance = lambda u: u.display_name
        self.fields["assignee"].empty_label = _("Not named")

    def clean_reply_by(self):
        reply_by = self.cleaned_data["reply_by"]
        if reply_by != self.cooperation.reply_by and reply_by < timezone.localdate():
            raise forms.ValidationError(_("The reply deadline cannot be in the past."))
        return reply_by


class AttachmentForm(SafeInputMixin, KRDSFormMixin, forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("HWP, HWPX, PDF, Office, images, text or CSV; up to 20 MB."),
        # static/js/app.js refuses a larger file before uploading it.
        widget=forms.ClearableFileInput(attrs={"data-max-bytes": MAX_ATTACHMENT_SIZE}),
    )

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if uploaded.size > MAX_ATTACHMENT_SIZE:
            raise forms.ValidationError(_("The file is larger than 20 MB."))
        return uploaded


def _agency_by_slug(**kwargs) -> forms.ModelChoiceField:
    """An optional organization, named in the list's address by its slug (``?lead=seogu``)."""
    return forms.ModelChoiceField(
        queryset=Agency.objects.all(), to_field_name="slug", required=False, **kwargs
    )


def _menu(field: forms.ModelChoiceField, options) -> list[tuple[str, str]]:
    """A menu's choices from ``menu_options``: "All", then each option's label."""
    model = field.queryset.model
    return [("", str(field.empty_label))] + [
        (slug, str(field.label_from_instance(model(slug=slug, name_ko=ko, name_en=en))))
        for slug, ko, en in options
    ]


class IssueFilterForm(SafeInputMixin, KRDSFormMixin, forms.Form):
    """The list's query parameters. Unknown values are ignored, never a 500."""

    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("Status"), required=False)
    agency = _agency_by_slug(label=_("Organization"))
    priority = forms.ChoiceField(label=_("Priority"), required=False)
    category = forms.ModelChoiceField(
        label=_("Category"), required=False, queryset=Category.objects.all(), to_field_name="slug"
    )
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    mine = forms.BooleanField(label=_("Filed by or assigned to me"), required=False)
    following = forms.BooleanField(label=_("Issues I follow"), required=False)
    waiting = forms.BooleanField(label=_("Waiting for my agency's answer"), required=False)
    reply_overdue = forms.BooleanField(label=_("Cooperation reply overdue"), required=False)
    sort = forms.ChoiceField(label=_("Sort"), required=False)
    # Not on the form; the dashboard links with them (see IssueFilters).
    HIDDEN = (
        "lead",
        "active",
        "waiting_for",
        "resolved_from",
        "resolved_to",
        "agenda",
        "awaiting",
        "escalated_for",
        "escalated_from",
        "escalated_to",
    )
    lead = _agency_by_slug(widget=forms.HiddenInput)
    active = forms.BooleanField(required=False, widget=forms.HiddenInput)
    waiting_for = _agency_by_slug(widget=forms.HiddenInput)
    resolved_from = forms.DateField(required=False, widget=forms.HiddenInput)
    resolved_to = forms.DateField(required=False, widget=forms.HiddenInput)
    agenda = forms.BooleanField(required=False, widget=forms.HiddenInput)
    awaiting = forms.BooleanField(required=False, widget=forms.HiddenInput)
    # The dashboard's escalations: requests of this agency escalated in these days.
    escalated_for = _agency_by_slug(widget=forms.HiddenInput)
    escalated_from = forms.DateField(required=False, widget=forms.HiddenInput)
    escalated_to = forms.DateField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        everything = [("", _("All"))]
        self.fields["status"].choices = everything + list(Status.choices)
        self.fields["priority"].choices = everything + list(Priority.choices)
        self.fields["agency"].empty_label = _("All")
        self.fields["agency"].label_from_instance = lambda a: a.name
        self.fields["category"].empty_label = _("All")
        self.fields["category"].label_from_instance = lambda c: c.name
        self.fields["sort"].choices = [
            ("updated", _("Recently updated")),
            ("created", _("Recently filed")),
            ("due", _("Due date")),
            ("priority", _("Priority")),
            ("title", _("Title")),
        ]

    def render_key(self) -> str:
        """Everything the rendered form shows, as one string: what was asked
        (values and errors follow from it) and the menus' options. The list
        keeps the rendered form under it with ``{% cache %}``; the language
        goes beside it there."""
        menus = []
        for name in ("agency", "category"):
            field = self.fields[name]
            # Not the field's own options: they would open a server-side cursor
            # (four round trips) on every page; selectors.menu_options keeps them.
            # The same options key the menu and, only when the cache has no
            # rendered form for them, are turned into its labels.
            options = menu_options(field.queryset.model)
            field.choices = functools.partial(_menu, field, options)
            menus.append(options)
        return repr((sorted(self.data.lists()), menus))

    # Dates far outside any plausible range would overflow timezone arithmetic.
    EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)

    def _bounded(self, name: str):
        value = self.cleaned_data.get(name)
        if value and not (self.EARLIEST <= value <= self.LATEST):
            raise forms.ValidationError(_("Enter a date between 2000 and 2100."))
        return value

    def clean_resolved_from(self):
        return self._bounded("resolved_from")

    def clean_resolved_to(self):
        return self._bounded("resolved_to")

    def clean_escalated_from(self):
        return self._bounded("escalated_from")

    def clean_escalated_to(self):
        return self._bounded("escalated_to")

    def filters(self) -> IssueFilters:
        """The valid part of the query; invalid parameters are dropped (see errors)."""
        data = (
            self.cleaned_data
            if self.is_valid()
            else {
                name: value
                for name, value in getattr(self, "cleaned_data", {}).items()
                if name not in self.errors
            }
        )
        return IssueFilters(
            q=(data.get("q") or "").strip(),
            status=data.get("status") or "",
            agency=data.get("agency"),
            priority=data.get("priority") or "",
            category=data.get("category"),
            overdue=bool(data.get("overdue")),
            mine=bool(data.get("mine")),
            following=bool(data.get("following")),
            waiting=bool(data.get("waiting")),
            reply_overdue=bool(data.get("reply_overdue")),
            sort=data.get("sort") or DEFAULT_SORT,
            lead=data.get("lead"),
            active=bool(data.get("active")),
            waiting_for=data.get("waiting_for"),
            resolved_from=data.get("resolved_from"),
            resolved_to=data.get("resolved_to"),
            on_agenda=bool(data.get("agenda")),
            awaiting=bool(data.get("awaiting")),
            escalated_for=data.get("escalated_for"),
            escalated_from=data.get("escalated_from"),
            escalated_to=data.get("escalated_to"),
        )


def normalized_query(data, form: IssueFilterForm | None = None) -> str:
    """The list's filter parameters of ``data`` as a query string, for a saved search.

    Only the filter form's own keys, non-empty and understood, in the form's
    order: ``page``, the default sort and anything unknown or invalid are
    dropped; a ticked box is written ``=1`` as the links write it
    (``following=1``), whether the form sent ``on`` or ``1``. ``form``: the
    list's own filter form of ``data``, already checked, if there is one.
    """
    if form is None:
        form = IssueFilterForm(data)
    form.is_valid()
    kept = []
    for name, field in IssueFilterForm.base_fields.items():
        if name in form.errors:
            continue
        if isinstance(field, forms.BooleanField):
            if form.cleaned_data.get(name):
                kept.append((name, "1"))
            continue
        kept += [(name, value.strip()) for value in data.getlist(name) if value.strip()]
    return urlencode(
        [(name, value) for name, value in kept if (name, value) != ("sort", DEFAULT_SORT)]
    )


class SavedSearchForm(SafeInputMixin, KRDSFormMixin, forms.Form):
    """Save the current filters under a name, or rename a saved search."""

    name = forms.CharField(label=_("Name"), max_length=80)
    include_in_digest = forms.BooleanField(
        label=_("New matches in the daily digest"), required=False
    )
