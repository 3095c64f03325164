from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MeetingsConfig(AppConfig):
    name = "meetings"
    verbose_name = _("Meetings")

    def ready(self) -> None:
        # issues may not import meetings (layering), yet an issue's timeline
        # must name a meeting only to people who may open it: meetings hands
        # its rule to issues here (see issues/timeline.py for why a registry).
        from issues import timeline

        from .selectors import TimelineMeetingAccess

        timeline.register_meeting_access(TimelineMeetingAccess())
