from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import SafeInputMixin


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
