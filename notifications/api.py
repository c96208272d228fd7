"""REST endpoints of notifications: list, mark read (some or all), unread count, alert delivery."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.request_types import AuthenticatedRequest
from chronoverse.pagination import keyset_page
from chronoverse.schema import page_parameters
from chronoverse.serializers import (
    ModelSerializer,
    StrictBooleanField,
    StrictCharField,
    StrictSerializer,
    StrictUUIDField,
    TimestampField,
)
from notifications import selectors, services
from notifications.models import DeliverySettings, Notification, NotificationKind


class NotificationSerializer(ModelSerializer):
    payload = serializers.JSONField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "payload", "read_at", "created_at", "updated_at"]


class MarkReadSerializer(StrictSerializer):
    WHOLE_ON_PATCH = True
    ids = serializers.ListField(child=StrictUUIDField(), min_length=1, max_length=services.MAX_MARK_READ)


@extend_schema(tags=["notifications"])
class NotificationListView(APIView):
    @extend_schema(
        operation_id="notifications_list",
        parameters=[
            OpenApiParameter("kind", str, enum=NotificationKind.values),
            OpenApiParameter("unread", str, enum=["true", "false"]),
            *page_parameters(),
        ],
        responses=inline_serializer(
            "NotificationList",
            {"notifications": NotificationSerializer(many=True), "cursor": serializers.CharField(allow_null=True)},
        ),
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        queryset = selectors.notification_list(user=request.user, filters=request.query_params)
        page = keyset_page(queryset, request.query_params)
        return Response({"notifications": NotificationSerializer(page.items, many=True).data, "cursor": page.cursor})


@extend_schema(tags=["notifications"])
class NotificationMarkReadView(APIView):
    @extend_schema(
        request=MarkReadSerializer, responses=inline_serializer("MarkedRead", {"updated": serializers.IntegerField()})
    )
    def patch(self, request: AuthenticatedRequest) -> Response:
        serializer = MarkReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        updated = services.notification_mark_read(user=request.user, ids=serializer.validated_data["ids"])
        return Response({"updated": updated})


@extend_schema(tags=["notifications"])
class NotificationMarkAllReadView(APIView):
    @extend_schema(
        operation_id="notifications_read_all",
        request=None,
        responses=inline_serializer("MarkedAllRead", {"updated": serializers.IntegerField()}),
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        return Response({"updated": services.notification_mark_all_read(user=request.user)})


@extend_schema(tags=["notifications"])
class NotificationUnreadCountView(APIView):
    @extend_schema(responses=inline_serializer("UnreadCount", {"count": serializers.IntegerField()}))
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response({"count": selectors.notification_unread_count(user=request.user)})


class DeliverySerializer(serializers.Serializer):
    """Where alerts go beyond the browser. The webhook's secret is never read back: only whether one is set."""

    email_alerts = serializers.BooleanField()
    webhook_url = serializers.CharField()
    webhook_secret_set = serializers.BooleanField()
    updated_at = TimestampField(allow_null=True)

    @staticmethod
    def of(delivery: DeliverySettings | None) -> dict:
        if delivery is None:
            return {"email_alerts": False, "webhook_url": "", "webhook_secret_set": False, "updated_at": None}
        return {
            "email_alerts": delivery.email_alerts,
            "webhook_url": delivery.webhook_url,
            "webhook_secret_set": bool(delivery.webhook_secret),
            "updated_at": delivery.updated_at,
        }


class DeliveryUpdateSerializer(StrictSerializer):
    """Any of the three; what is left out keeps its value. An empty webhook_url turns the webhook off."""

    email_alerts = StrictBooleanField(required=False)
    webhook_url = serializers.URLField(required=False, allow_blank=True, max_length=2048)
    webhook_secret = StrictCharField(required=False, allow_blank=True, max_length=256, trim_whitespace=False)

    def validate_webhook_url(self, value: str) -> str:
        if value and not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Must be an http or https URL.")
        return value


@extend_schema(tags=["notifications"])
class NotificationDeliveryView(APIView):
    @extend_schema(operation_id="notifications_delivery_read", responses=DeliverySerializer)
    def get(self, request: AuthenticatedRequest) -> Response:
        delivery = DeliverySettings.objects.filter(user=request.user).first()
        return Response(DeliverySerializer(DeliverySerializer.of(delivery)).data)

    @extend_schema(
        operation_id="notifications_delivery_update", request=DeliveryUpdateSerializer, responses=DeliverySerializer
    )
    def patch(self, request: AuthenticatedRequest) -> Response:
        serializer = DeliveryUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        current = DeliverySettings.objects.filter(user=request.user).first()
        values = {
            "email_alerts": current.email_alerts if current else False,
            "webhook_url": current.webhook_url if current else "",
            "webhook_secret": current.webhook_secret if current else "",
            **serializer.validated_data,
        }
        delivery = services.delivery_settings_update(user=request.user, **values)
        return Response(DeliverySerializer(DeliverySerializer.of(delivery)).data)
