from django.urls import path

from jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list_view, name="list"),
    path("<uuid:job_id>/", views.job_detail_view, name="detail"),
    path("<uuid:job_id>/cancel/", views.job_cancel_view, name="cancel"),
    path("<uuid:job_id>/rerun/", views.job_rerun_view, name="rerun"),
    path("<uuid:job_id>/log/", views.job_log_view, name="log"),
    path("<uuid:job_id>/log.txt", views.job_log_download_view, name="log-download"),
]

# Pages of a workflow that show or change its jobs; chronoverse/urls.py serves them under
# /workflows/ with the workflows app's own pages, in the `workflows` namespace.
workflow_urlpatterns = [
    path("<uuid:workflow_id>/", views.workflow_detail_view, name="detail"),
    path("<uuid:workflow_id>/terminate/", views.workflow_terminate_view, name="terminate"),
    path("<uuid:workflow_id>/delete/", views.workflow_delete_view, name="delete"),
    path("<uuid:workflow_id>/run/", views.workflow_run_view, name="run"),
]
