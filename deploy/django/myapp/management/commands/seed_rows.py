"""seed_rows: fill myapp_item with deterministic rows, idempotently.

Running it again leaves the table unchanged: rows are keyed by id, missing
ones are created, changed ones are restored, and rows with ids above --count
are deleted.
"""
import random

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from myapp.models import Item

DEFAULT_COUNT = 100

_WORDS = (
    "amber", "basalt", "cedar", "delta", "ember", "fjord", "granite", "harbor",
    "indigo", "juniper", "kestrel", "lagoon", "meadow", "nickel", "onyx", "prairie",
    "quartz", "river", "sable", "tundra", "umber", "valley", "willow", "zephyr",
)


def expected_rows(count):
    """Return the rows seed_rows writes, as field dicts keyed by id (deterministic)."""
    rng = random.Random(3225)
    rows = {}
    for row_id in range(1, count + 1):
        words = [rng.choice(_WORDS) for _ in range(3)]
        rows[row_id] = {
            "name": " ".join(words[:2]).title(),
            "sku": f"SKU-{row_id:06d}",
            "description": f"{' '.join(words)} item number {row_id}",
            "price_cents": rng.randrange(100, 100_000),
            "quantity": rng.randrange(0, 500),
        }
    return rows


class Command(BaseCommand):
    help = "Fill the myapp_item table with deterministic rows (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--count",
            type=int,
            default=DEFAULT_COUNT,
            help=f"number of rows the table ends up with (default {DEFAULT_COUNT})",
        )

    def handle(self, *args, count, **options):
        if count < 1:
            raise CommandError(f"--count must be at least 1, not {count}")
        rows = expected_rows(count)
        fields = list(next(iter(rows.values())))
        with transaction.atomic():
            deleted, _ = Item.objects.filter(id__gt=count).delete()
            existing = {item.id: item for item in Item.objects.all()}
            create, update = [], []
            for row_id, values in rows.items():
                item = existing.get(row_id)
                if item is None:
                    create.append(Item(id=row_id, **values))
                elif any(getattr(item, key) != value for key, value in values.items()):
                    for key, value in values.items():
                        setattr(item, key, value)
                    update.append(item)
            if update:
                Item.objects.bulk_update(update, fields)
            if create:
                Item.objects.bulk_create(create)
        self.stdout.write(
            f"seed_rows: {len(create)} created, {len(update)} updated, "
            f"{deleted} deleted, {count} rows"
        )
