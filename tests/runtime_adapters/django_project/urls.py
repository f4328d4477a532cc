"""URLs: a path route, an included URLconf (``api/``) and a regex route."""

from __future__ import annotations

from django.urls import include, path, re_path

from . import views

api = [
    path("items/<int:pk>/", views.item),
    path("items/", views.items),
]

urlpatterns = [
    path("health/", views.health),
    path("boom/", views.boom),
    path("unavailable/", views.unavailable),
    path("async/<str:name>/", views.greet),
    re_path(r"^archive/(?P<year>[0-9]{4})/$", views.archive),
    path("api/", include(api)),
]
