"""Views that exercise what the tests check."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from .shop.models import Item


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def boom(request: HttpRequest) -> HttpResponse:
    raise ValueError("boom")


def unavailable(request: HttpRequest) -> HttpResponse:
    return HttpResponse("later", status=503)


async def greet(request: HttpRequest, name: str) -> HttpResponse:
    return HttpResponse(f"hello {name}")


def archive(request: HttpRequest, year: str) -> HttpResponse:
    return HttpResponse(year)


def items(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        Item.objects.create(name=request.GET.get("name", "thing"))
    return JsonResponse({"names": [item.name for item in Item.objects.filter(price__gte=0)]})


def item(request: HttpRequest, pk: int) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    found = Item.objects.filter(pk=pk).first()
    return JsonResponse({"name": found.name if found else None})
