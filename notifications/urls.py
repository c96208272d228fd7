from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list_view, name="list"),
    path("read/", views.notification_mark_read_view, name="read"),
    path("bell/", views.notification_bell_view, name="bell"),
]

# The settings page spans accounts and notifications; chronoverse/urls.py serves it under
# /accounts/ with the accounts app's own pages, in the `accounts` namespace.
account_urlpatterns = [
    path("settings/", views.settings_view, name="settings"),
]
