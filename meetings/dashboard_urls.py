from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("agencies.<str:fmt>", views.dashboard_export, name="dashboard_export"),  # csv, xlsx
]
