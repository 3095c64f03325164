from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from agencies import account_views
from core.metrics import metrics_view
from meetings.urls import performance_urlpatterns

from . import notifications
from .account_settings import account_settings
from .forms import LoginForm, PasswordChangeForm, PasswordResetForm, SetPasswordForm
from .views import healthz, home

admin.site.site_header = _("Gwangju Hub administration")
admin.site.site_title = _("Gwangju Hub")

# The bell's page (gwangju_hub/notifications.py), under /notifications/.
notification_urlpatterns = [
    path("", notifications.notification_list, name="list"),
    path("read/", notifications.mark_all_read, name="read_all"),
    path("<int:pk>/", notifications.notification_open, name="open"),
    path("reminders/<int:pk>/", notifications.reminder_open, name="reminder"),
]

# Self-service passwords (Django's views with our forms and templates) and
# the session clock (issue 8). The paths are the contract's, not auth.urls'.
_password_pages = [
    ("change/", auth_views.PasswordChangeView, PasswordChangeForm, "password_change"),
    ("change/done/", auth_views.PasswordChangeDoneView, None, "password_change_done"),
    ("reset/", account_views.PasswordResetView, PasswordResetForm, "password_reset"),
    ("reset/done/", auth_views.PasswordResetDoneView, None, "password_reset_done"),
    (
        "reset/<uidb64>/<token>/",
        account_views.PasswordResetConfirmView,
        SetPasswordForm,
        "password_reset_confirm",
    ),
    ("reset/complete/", auth_views.PasswordResetCompleteView, None, "password_reset_complete"),
]
account_urlpatterns = [
    *(
        path(f"password/{route}", view.as_view(**({"form_class": form} if form else {})), name=name)
        for route, view, form, name in _password_pages
    ),
    # Notice choices, language, calendar feed (issue 9).
    path("settings/", account_settings, name="account_settings"),
    path("session/", account_views.session_status, name="session_status"),
    path("session/extend/", account_views.session_extend, name="session_extend"),
]

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=LoginForm
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include(account_urlpatterns)),
    path("admin/", admin.site.urls),
    path("issues/", include("issues.urls")),
    path("notifications/", include((notification_urlpatterns, "notifications"))),
    path("meetings/", include("meetings.urls")),
    path("performance/", include((performance_urlpatterns, "performance"))),
    path("dashboard/", include("meetings.dashboard_urls")),
    path("", include("agencies.urls")),
    path("metrics", metrics_view, name="metrics"),  # bearer token only (core/metrics.py)
]
