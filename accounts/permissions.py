from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.models import ApiToken


class TokenScopePermission(BasePermission):
    """A read-scoped token may only read. Sessions act with the user's full rights."""

    message = "This token has the read scope only."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        token = request.auth
        return not isinstance(token, ApiToken) or token.can_write
