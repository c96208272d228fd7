from django.urls import path

from workflows import api

urlpatterns = [
    path("workflows", api.WorkflowListView.as_view(), name="workflows"),
    path("workflows/<uuid:workflow_id>/pause", api.WorkflowPauseView.as_view(), name="workflow-pause"),
    path("workflows/<uuid:workflow_id>/resume", api.WorkflowResumeView.as_view(), name="workflow-resume"),
    path("workflows/<uuid:workflow_id>/build", api.WorkflowBuildView.as_view(), name="workflow-build"),
    path("workflows/<uuid:workflow_id>/rebuild", api.WorkflowRebuildView.as_view(), name="workflow-rebuild"),
    path("workflows/<uuid:workflow_id>/ping-key", api.WorkflowPingKeyView.as_view(), name="workflow-ping-key"),
]
