from django.urls import include, path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("schedules/", include("dashboard.schedules")),
]
