from django.urls import path

from chronoverse import views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
]
