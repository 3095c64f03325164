from django.urls import path

from . import views

app_name = "issues"

urlpatterns = [
    path("", views.issue_list, name="list"),
    path("export.csv", views.issue_export, name="export"),
    path("new/", views.issue_create, name="create"),
    path("searches/", views.saved_search_create, name="saved_search_create"),
    path("searches/<int:pk>/", views.saved_search_update, name="saved_search_update"),
    path("searches/<int:pk>/delete/", views.saved_search_delete, name="saved_search_delete"),
    path("<int:pk>/", views.issue_detail, name="detail"),
    path("<int:pk>/edit/", views.issue_edit, name="edit"),
    path("<int:pk>/status/", views.issue_change_status, name="status"),
    path("<int:pk>/follow/", views.issue_follow, name="follow"),
    path("<int:pk>/comments/", views.comment_create, name="comment"),
    path(
        "<int:pk>/cooperations/<int:cooperation_id>/answer/",
        views.cooperation_answer,
        name="answer",
    ),
    path(
        "<int:pk>/cooperations/<int:cooperation_id>/",
        views.cooperation_update,
        name="cooperation_update",
    ),
    path("<int:pk>/attachments/", views.attachment_upload, name="attachment_upload"),
    path("<int:pk>/attachments/<int:attachment_id>/", views.attachment_download, name="attachment"),
]
