from django.contrib.auth import views as auth_views
from django.urls import path

from ledgerline.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("datasets/", views.datasets, name="datasets"),
    path("datasets/<uuid:dataset_id>/", views.dataset, name="dataset"),
    path("datasets/<uuid:dataset_id>/sounds/", views.dataset_sounds, name="dataset_sounds"),
    path("training-runs/", views.training_runs, name="training_runs"),
    path("training-runs/<uuid:run_id>/", views.training_run, name="training_run"),
    path("royalties/", views.royalties, name="royalties"),
    path("organisations/<slug:slug>/", views.organisation, name="organisation"),
    path("works/", views.works, name="works"),
    path("works/verify/", views.works_verify, name="works_verify"),
    path("works/<uuid:work_id>/", views.work, name="work"),
    path("verify/", views.verify, name="verify"),
    path("verify/<uuid:verification_id>/", views.verification, name="verification"),
    path("login/", auth_views.LoginView.as_view(template_name="portal/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
