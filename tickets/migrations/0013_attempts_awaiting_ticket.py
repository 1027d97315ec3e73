"""The escalations recorded before guides.Attempt.awaiting_ticket existed and still without a
ticket (parked ones included) are marked as awaiting one, so the escalation workers find them
through its index. No schema change here: the column came with guides 0010."""

from django.db import migrations


def mark(apps, schema_editor):
    Attempt = apps.get_model("guides", "Attempt")
    Attempt.objects.filter(status="escalated", ticket__isnull=True).update(awaiting_ticket=True)


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0012_routing_version"),
        ("guides", "0010_attempt_awaiting_ticket"),
    ]

    operations = [migrations.RunPython(mark, migrations.RunPython.noop, elidable=True)]
