from django.urls import path

from jobs import views

app_name = "jobs"

urlpatterns = [
    path("<uuid:job_id>/", views.job_detail_view, name="detail"),
    path("<uuid:job_id>/cancel/", views.job_cancel_view, name="cancel"),
]
