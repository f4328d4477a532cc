"""One model, its table made by the tests with the schema editor (no migrations)."""

from __future__ import annotations

from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=100)
    price = models.IntegerField(default=0)

    class Meta:
        app_label = "shop"
