from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class IssuesConfig(AppConfig):
    name = "issues"
    verbose_name = _("Issues")

    def ready(self) -> None:
        from agencies.models import Agency

        from .models import Category
        from .selectors import forget_menu_options

        for model in (Agency, Category):
            post_save.connect(forget_menu_options, sender=model, dispatch_uid=f"menu-{model}")
            post_delete.connect(forget_menu_options, sender=model, dispatch_uid=f"menu-{model}-d")
