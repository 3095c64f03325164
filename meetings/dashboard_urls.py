from django.urls import path

from . import dashboard

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("agencies.<str:fmt>", dashboard.dashboard_export, name="dashboard_export"),  # csv, xlsx
]
