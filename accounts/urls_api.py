from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/register", api.RegisterView.as_view(), name="auth-register"),
    path("auth/login", api.LoginView.as_view(), name="auth-login"),
    path("auth/logout", api.LogoutView.as_view(), name="auth-logout"),
    path("users/me", api.MeView.as_view(), name="users-me"),
    path("tokens", api.TokenListView.as_view(), name="tokens"),
    path("tokens/<uuid:token_id>", api.TokenDetailView.as_view(), name="token-detail"),
    path("audit-log", api.AuditLogListView.as_view(), name="audit-log"),
]
