from django.urls import path

from . import notifications as views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("read/", views.mark_all_read, name="read_all"),
    path("<int:pk>/", views.notification_open, name="open"),
    path("reminders/<int:pk>/", views.reminder_open, name="reminder"),
]
