from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import KRDSFormMixin, SafeInputMixin

from .models import Delivery, NoticeKind, User


class UserImportForm(SafeInputMixin, forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns: username, agency (slug), role, email, last_name, first_name, password. "
            "UTF-8, the first row holds the column names."
        ),
    )

    MAX_SIZE = 2 * 1024 * 1024

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if uploaded.size > self.MAX_SIZE:
            raise forms.ValidationError(_("The file is larger than 2 MB."))
        return uploaded


class NoticeSettingsForm(SafeInputMixin, KRDSFormMixin, forms.Form):
    """One's own notice choices, one radio group per kind of notice, and language."""

    preferred_language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        help_text=_("Also the language of your e-mails."),
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        kwargs.setdefault(
            "initial",
            {
                "preferred_language": user.preferred_language,
                **{kind: user.delivery_for(kind) for kind in NoticeKind.values},
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["preferred_language"].choices = [
            ("", _("Follow the browser")),
            *User._meta.get_field("preferred_language").choices,
        ]
        for kind in NoticeKind:
            self.fields[kind.value] = forms.ChoiceField(
                label=kind.label, choices=Delivery.choices, widget=forms.RadioSelect
            )

    def notice_fields(self) -> list[forms.BoundField]:
        return [self[kind] for kind in NoticeKind.values]

    def deliveries(self) -> dict[str, str]:
        return {kind: self.cleaned_data[kind] for kind in NoticeKind.values}
