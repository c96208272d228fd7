from django.contrib import admin

from notifications.models import DeliverySettings, Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "user", "read_at"]
    list_filter = ["kind", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__email", "kind"]
    list_select_related = ["user"]
    readonly_fields = ["id", "user", "kind", "payload", "created_at", "updated_at"]
    fields = ["id", "user", "kind", "payload", "read_at", "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(DeliverySettings)
class DeliverySettingsAdmin(admin.ModelAdmin):
    list_display = ["user", "email_alerts", "webhook_url", "updated_at"]
    list_filter = ["email_alerts"]
    search_fields = ["user__email", "webhook_url"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
