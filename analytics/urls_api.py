from django.urls import path

from analytics import api

urlpatterns = [
    path("analytics", api.UserAnalyticsView.as_view(), name="analytics"),
    path("analytics/workflows/<uuid:workflow_id>", api.WorkflowAnalyticsView.as_view(), name="analytics-workflow"),
]
