from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AgenciesConfig(AppConfig):
    name = "agencies"
    verbose_name = _("Organizations and users")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .middleware import start_session_clocks

        # The absolute session limit counts from the login itself, also when
        # someone logs in again over a session that was never logged out.
        user_logged_in.connect(start_session_clocks, dispatch_uid="agencies.session_clocks")
