from django.urls import path

from workflows import views

app_name = "workflows"

urlpatterns = [
    path("", views.workflow_list_view, name="list"),
    path("new/", views.workflow_create_view, name="create"),
    path("<uuid:workflow_id>/", views.workflow_detail_view, name="detail"),
    path("<uuid:workflow_id>/edit/", views.workflow_edit_view, name="edit"),
    path("<uuid:workflow_id>/terminate/", views.workflow_terminate_view, name="terminate"),
    path("<uuid:workflow_id>/delete/", views.workflow_delete_view, name="delete"),
    path("<uuid:workflow_id>/rebuild/", views.workflow_rebuild_view, name="rebuild"),
    path("<uuid:workflow_id>/run/", views.workflow_run_view, name="run"),
]
