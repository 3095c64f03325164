from django.apps import AppConfig


class GwangjuHubConfig(AppConfig):
    """The project itself, as an app: home of commands that span every app (seed_demo)."""

    name = "gwangju_hub"
    verbose_name = "Gwangju Hub"

    def ready(self) -> None:
        # Celery signal receivers: worker logging in the app's format, the
        # task id on every record, and task failures counted for /metrics.
        import core.tasklogs  # noqa: F401
        from core.metrics import register_gauge_collector

        from .outbox import collect_gauges

        register_gauge_collector(collect_gauges)
