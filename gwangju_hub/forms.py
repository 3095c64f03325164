"""The login and password forms (Django's, in KRDS dress)."""

from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import password_validators_help_texts

from core.forms import KRDSFormMixin


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
