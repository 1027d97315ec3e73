"""Each existing guide gets version 1, a snapshot of its steps as they are now, and its attempts
are linked to it with the order those customers were shown: the procedure, the alternatives and
the last resort, each by position (the only order there was before guides.ordering).

The closest record there is: an attempt made before an edit of the steps saw other wording,
but no older snapshot exists. Set-based: versions are inserted in batches, and each guide's
attempts take theirs in one UPDATE. Reversing keeps the rows (the columns go with 0011).
"""

from django.db import migrations

BATCH = 500
KINDS = ("procedure", "alternative", "last_resort")


def backfill(apps, schema_editor):
    db = schema_editor.connection.alias
    Guide = apps.get_model("guides", "Guide")
    GuideVersion = apps.get_model("guides", "GuideVersion")
    Attempt = apps.get_model("guides", "Attempt")
    Step = apps.get_model("guides", "Step")

    guide_ids = list(
        Guide.objects.using(db)
        .filter(versions__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(guide_ids), BATCH):
        batch = guide_ids[start : start + BATCH]
        snapshots: dict[int, list[dict]] = {pk: [] for pk in batch}
        rows = (
            Step.objects.using(db)
            .filter(guide_id__in=batch)
            .order_by("guide_id", "position")
            .values_list("guide_id", "pk", "position", "kind", "title", "body")
        )
        for guide_id, pk, position, kind, title, body in rows:
            snapshots[guide_id].append(
                {"step": pk, "position": position, "kind": kind, "title": title, "body": body}
            )
        GuideVersion.objects.using(db).bulk_create(
            GuideVersion(guide_id=pk, number=1, steps=steps) for pk, steps in snapshots.items()
        )
        versions = dict(
            GuideVersion.objects.using(db)
            .filter(guide_id__in=batch, number=1)
            .values_list("guide_id", "pk")
        )
        for guide_id, steps in snapshots.items():
            order = [s["step"] for kind in KINDS for s in steps if s["kind"] == kind]
            Attempt.objects.using(db).filter(guide_id=guide_id, guide_version__isnull=True).update(
                guide_version_id=versions[guide_id], step_order=order
            )


class Migration(migrations.Migration):
    dependencies = [("guides", "0012_alternatives_order_changes")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
