"""Form helpers shared by every app."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm


class KRDSFormMixin:
    """Give each widget the KRDS class for its kind, so templates stay plain."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "krds-form-select"
            elif isinstance(
                widget, forms.CheckboxInput | forms.CheckboxSelectMultiple | forms.RadioSelect
            ):
                css = ""
            else:
                css = "krds-input"
            if css:
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


class LoginForm(KRDSFormMixin, AuthenticationForm):
    pass
