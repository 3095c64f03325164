from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MeetingsConfig(AppConfig):
    name = "meetings"
    verbose_name = _("Meetings")

    def ready(self) -> None:
        # issues may not import meetings (layering), yet an issue's timeline
        # must name a meeting only to people who may open it: meetings hands
        # its rule to issues here (see issues/timeline.py for why a registry).
        from issues import extensions, timeline

        from .selectors import TimelineMeetingAccess, on_upcoming_agenda

        timeline.register_meeting_access(TimelineMeetingAccess())
        # The issue page's "On the agenda" box, served by meetings, and the
        # list's "on an upcoming agenda" filter (see issues/extensions.py).
        extensions.register_fragment(
            extensions.IssueFragment(
                key="issue-agenda",
                url_name="meetings:issue_agenda",
                label=_("Meetings about this issue"),
            )
        )
        extensions.register_filter("agenda", on_upcoming_agenda)
