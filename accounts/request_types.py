"""Request types for type checking the views that only a signed-in user reaches.

Behind `login_required` (dashboard) or `IsAuthenticated` (the API's default permission) the
request's user is a `User`, never `AnonymousUser`; the stubs cannot know that from the decorator or
the settings, so such views annotate their request with these. Annotations only: nothing here runs.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    user: User


class AuthenticatedRequest(Request):
    user: User
