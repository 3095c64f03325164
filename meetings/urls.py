"""Two lists: ``urlpatterns`` under /meetings/ and ``performance_urlpatterns`` under /performance/.

gwangju_hub/urls.py includes them as::

    path("meetings/", include("meetings.urls")),
    path("performance/", include((performance_urlpatterns, "performance"))),
"""

from django.urls import path

from . import views

app_name = "meetings"

urlpatterns = [
    path("", views.meeting_list, name="list"),
    path("calendar.ics", views.calendar_feed, name="calendar"),
    path("calendar/token/", views.calendar_token, name="calendar_token"),
    path("agenda/propose/", views.agenda_propose, name="agenda_propose"),
    # The issue page's agenda box (issues/extensions.py).
    path("issues/<int:issue_id>/", views.issue_agenda, name="issue_agenda"),
    path("<int:pk>/", views.meeting_detail, name="detail"),
    path("<int:pk>/print/", views.meeting_print, name="print"),
    path("<int:pk>/minutes/", views.meeting_minutes, name="minutes"),
    path("<int:pk>/cancel/", views.meeting_cancel, name="cancel"),
    path("<int:pk>/agenda/", views.agenda_add, name="agenda_add"),
    path(
        "<int:pk>/agenda/<int:item_id>/accept/",
        views.agenda_status,
        {"change": "accept"},
        name="agenda_accept",
    ),
    path(
        "<int:pk>/agenda/<int:item_id>/remove/",
        views.agenda_status,
        {"change": "remove"},
        name="agenda_remove",
    ),
    path("<int:pk>/agenda/<int:item_id>/move/", views.agenda_move, name="agenda_move"),
    path("<int:pk>/agenda/<int:item_id>/decision/", views.agenda_decide, name="agenda_decide"),
]

performance_urlpatterns = [
    path("<int:year>/", views.performance_overview, name="overview"),
    path("<int:year>/print/", views.performance_print, name="print"),
    path("<int:year>/<slug:agency_slug>/", views.performance_report, name="report"),
]
