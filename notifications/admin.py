from django.contrib import admin

from notifications.models import Notification


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
