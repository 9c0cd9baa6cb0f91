from django.db import models


class Item(models.Model):
    """A catalogue row; seed_rows fills the table, json_query and template_query read it."""

    name = models.CharField(max_length=64)
    sku = models.CharField(max_length=16, unique=True)
    description = models.CharField(max_length=255)
    price_cents = models.IntegerField()
    quantity = models.IntegerField()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name
