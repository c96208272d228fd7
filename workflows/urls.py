from django.urls import path

from workflows import views

app_name = "workflows"

urlpatterns = [
    path("", views.workflow_list_view, name="list"),
    path("new/", views.workflow_create_view, name="create"),
    path("schedule-preview/", views.workflow_schedule_preview_view, name="schedule-preview"),
    path("<uuid:workflow_id>/edit/", views.workflow_edit_view, name="edit"),
    path("<uuid:workflow_id>/rebuild/", views.workflow_rebuild_view, name="rebuild"),
    path("<uuid:workflow_id>/pause/", views.workflow_pause_view, name="pause"),
    path("<uuid:workflow_id>/resume/", views.workflow_resume_view, name="resume"),
]
