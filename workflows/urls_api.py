from django.urls import path

from workflows import api

urlpatterns = [
    path("workflows", api.WorkflowListView.as_view(), name="workflows"),
]
