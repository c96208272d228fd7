from django.urls import path

from notifications import api

urlpatterns = [
    path("notifications", api.NotificationListView.as_view(), name="notifications"),
    path("notifications/read", api.NotificationMarkReadView.as_view(), name="notifications-read"),
    path("notifications/read-all", api.NotificationMarkAllReadView.as_view(), name="notifications-read-all"),
    path("notifications/delivery", api.NotificationDeliveryView.as_view(), name="notifications-delivery"),
    path("notifications/unread-count", api.NotificationUnreadCountView.as_view(), name="notifications-unread-count"),
]
