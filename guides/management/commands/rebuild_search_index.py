from __future__ import annotations

from django.core.management.base import BaseCommand

from guides.search import guide_search_index_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the guide search index from the guides in the database. Imports and the admin"
        " keep it up to date; run this after changing the search normalisation, or after"
        " editing guides by other means (SQL, a queryset update)."
    )

    def handle(self, *args, **options) -> None:
        count = guide_search_index_rebuild()
        self.stdout.write(self.style.SUCCESS(f"{count} guides indexed"))
