from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom floor as an app only so Django finds its template tags (no tables:
    its one model, ``OutboxRow``, is abstract)."""

    name = "core"
    verbose_name = "Core"
