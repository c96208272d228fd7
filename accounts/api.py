"""REST endpoints of accounts: auth, the current user, tokens, and the audit log."""

from __future__ import annotations

from django.contrib.auth import logout
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import ApiToken, AuditLog, NotificationPreference, TokenScope, User
from accounts.request_types import AuthenticatedRequest
from chronoverse.pagination import keyset_page
from chronoverse.schema import page_parameters
from chronoverse.serializers import ModelSerializer, StrictCharField, StrictSerializer, format_timestamp


class UserSerializer(ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "notification_preference", "created_at", "updated_at"]


class TokenSerializer(ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "scopes", "prefix", "created_at", "expires_at", "last_used_at"]


class AuditLogSerializer(ModelSerializer):
    class Meta:
        model = AuditLog
        fields = ["id", "action", "target_type", "target_id", "ip", "user_agent", "created_at", "details"]


class CredentialsSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = StrictCharField(min_length=8, max_length=128, trim_whitespace=False)


class LoginSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    # No minimum here: a short password is simply a wrong one (401), not malformed input.
    password = StrictCharField(max_length=128, trim_whitespace=False)


class UserUpdateSerializer(StrictSerializer):
    WHOLE_ON_PATCH = True
    notification_preference = serializers.ChoiceField(choices=NotificationPreference.choices)


class TokenCreateSerializer(StrictSerializer):
    name = StrictCharField(min_length=1, max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=TokenScope.choices), allow_empty=False, min_length=1, max_length=2
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(help_text="The secret, shown once.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]


def _validated(serializer_class, request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema(tags=["auth"])
class RegisterView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=CredentialsSerializer,
        responses={
            201: inline_serializer("Registered", {"user": UserSerializer(), "token": serializers.CharField()}),
            409: OpenApiResponse(description="The email is already registered."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = _validated(CredentialsSerializer, request)
        user, secret = services.user_register(
            email=data["email"], password=data["password"], context=services.RequestContext.from_request(request)
        )
        return Response({"user": UserSerializer(user).data, "token": secret}, status=status.HTTP_201_CREATED)


@extend_schema(tags=["auth"])
class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=LoginSerializer,
        responses={
            200: inline_serializer(
                "LoggedIn", {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()}
            )
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = _validated(LoginSerializer, request)
        token, secret = services.user_login_token(
            email=data["email"], password=data["password"], context=services.RequestContext.from_request(request)
        )
        return Response({"token": secret, "expires_at": format_timestamp(token.expires_at)})


@extend_schema(tags=["auth"])
class LogoutView(APIView):
    # Any token may end itself, a read-only one included: logging out is not a write to the account.
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: AuthenticatedRequest) -> Response:
        token = request.auth if isinstance(request.auth, ApiToken) else None
        services.user_logout(user=request.user, token=token, context=services.RequestContext.from_request(request))
        if token is None:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["users"])
class MeView(APIView):
    @extend_schema(responses=UserSerializer)
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def patch(self, request: AuthenticatedRequest) -> Response:
        data = _validated(UserUpdateSerializer, request)
        user = services.user_update(
            user=request.user,
            notification_preference=data["notification_preference"],
            context=services.RequestContext.from_request(request),
        )
        return Response(UserSerializer(user).data)


_PAGE_PARAMS = page_parameters()


@extend_schema(tags=["tokens"])
class TokenListView(APIView):
    @extend_schema(
        parameters=_PAGE_PARAMS,
        responses=inline_serializer(
            "TokenList", {"tokens": TokenSerializer(many=True), "cursor": serializers.CharField(allow_null=True)}
        ),
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        page = keyset_page(selectors.token_list(user=request.user), request.query_params)
        return Response({"tokens": TokenSerializer(page.items, many=True).data, "cursor": page.cursor})

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenCreatedSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        data = _validated(TokenCreateSerializer, request)
        token, secret = services.token_create(
            user=request.user,
            name=data["name"],
            scopes=data["scopes"],
            expires_at=data.get("expires_at"),
            context=services.RequestContext.from_request(request),
        )
        return Response({**TokenSerializer(token).data, "token": secret}, status=status.HTTP_201_CREATED)


@extend_schema(tags=["tokens"])
class TokenDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: AuthenticatedRequest, token_id) -> Response:
        services.token_revoke(
            user=request.user, token_id=token_id, context=services.RequestContext.from_request(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["audit-log"])
class AuditLogListView(APIView):
    @extend_schema(
        parameters=_PAGE_PARAMS,
        responses=inline_serializer(
            "AuditLogList",
            {"audit_logs": AuditLogSerializer(many=True), "cursor": serializers.CharField(allow_null=True)},
        ),
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        page = keyset_page(selectors.audit_log_list(user=request.user), request.query_params)
        return Response({"audit_logs": AuditLogSerializer(page.items, many=True).data, "cursor": page.cursor})
