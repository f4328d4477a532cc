"""The harness's one endpoint."""

from django.urls import path

from . import views

urlpatterns = [path("test", views.test)]
