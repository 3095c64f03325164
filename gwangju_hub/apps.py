from django.apps import AppConfig


class GwangjuHubConfig(AppConfig):
    """The project itself, as an app: home of commands that span every app (seed_demo)."""

    name = "gwangju_hub"
    verbose_name = "Gwangju Hub"
