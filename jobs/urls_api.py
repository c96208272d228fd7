from django.urls import path

from jobs import api

urlpatterns = [
    # A workflow's detail (its DELETE takes its jobs along) and terminate (cancels its jobs).
    path("workflows/<uuid:workflow_id>", api.WorkflowDetailView.as_view(), name="workflow-detail"),
    path("workflows/<uuid:workflow_id>/terminate", api.WorkflowTerminateView.as_view(), name="workflow-terminate"),
    path("workflows/<uuid:workflow_id>/jobs", api.WorkflowJobsView.as_view(), name="workflow-jobs"),
    path("workflows/<uuid:workflow_id>/pings", api.WorkflowPingsView.as_view(), name="workflow-pings"),
    path("jobs/<uuid:job_id>", api.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<uuid:job_id>/cancel", api.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<uuid:job_id>/logs", api.JobLogsView.as_view(), name="job-logs"),
    path("jobs/<uuid:job_id>/logs/raw", api.JobLogsRawView.as_view(), name="job-logs-raw"),
    path("jobs/<uuid:job_id>/events", api.JobEventsView.as_view(), name="job-events"),
]
