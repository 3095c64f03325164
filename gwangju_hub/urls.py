from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from core.metrics import metrics_view
from meetings.urls import performance_urlpatterns

from .forms import LoginForm
from .views import home

admin.site.site_header = _("Gwangju Hub administration")
admin.site.site_title = _("Gwangju Hub")

urlpatterns = [
    path("", home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=LoginForm
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("issues/", include("issues.urls")),
    path("notifications/", include("gwangju_hub.notification_urls")),
    path("meetings/", include("meetings.urls")),
    path("performance/", include((performance_urlpatterns, "performance"))),
    path("dashboard/", include("meetings.dashboard_urls")),
    path("", include("agencies.urls")),
    path("metrics", metrics_view, name="metrics"),  # bearer token only (core/metrics.py)
]
