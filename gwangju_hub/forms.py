"""Form helpers shared by every app."""

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import password_validators_help_texts
from django.core.exceptions import ValidationError


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


class NewPasswordHelpMixin:
    """The password rules under the new-password field, and its errors there too.

    Django's help text is an HTML list, which does not fit the hint paragraph
    the field partial ties to the input with aria-describedby: one plain
    paragraph instead.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = " ".join(password_validators_help_texts())

    def validate_password_for_user(
        self,
        user,
        password_field_name: str = "new_password2",  # noqa: S107 - a field name
    ) -> None:
        # Django reports a too-simple password under the confirmation field;
        # it belongs under the new password, next to the rule it breaks. Only
        # once both fields agree (a mismatch is reported on its own).
        if self.cleaned_data.get(password_field_name):
            super().validate_password_for_user(user, "new_password1")


class PasswordChangeForm(NewPasswordHelpMixin, KRDSFormMixin, auth_forms.PasswordChangeForm):
    pass


class SetPasswordForm(NewPasswordHelpMixin, KRDSFormMixin, auth_forms.SetPasswordForm):
    pass


class PasswordResetForm(KRDSFormMixin, auth_forms.PasswordResetForm):
    pass


def add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Show a service's ValidationError in the form the user submitted.

    Services validate again (they are also called from tasks and commands);
    their errors land on the matching field, or on the form as a whole.
    """
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)
