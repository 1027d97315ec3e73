"""The at-risk instants (0021) for the open tickets made before them.

The SLA check marks a ticket at risk once SLA_AT_RISK_SHARE of the time between its creation
and a due time has passed. Tickets made before 0021 carry no stored instant and were reckoned
one by one on every sweep (at a million tickets, about 20,000 open rows read each minute);
this works the instants out once, by the same rule, so the sweep finds them by index. No queue
had a schedule before 0021, so the rule's time is plain time. A due time not after creation
never made a ticket at risk by that target; its instant stays empty, so it still doesn't.
"""

from django.db import migrations

AT_RISK_SHARE = 0.75  # tickets.models.ticket.SLA_AT_RISK_SHARE, as it was when written
OPEN = ("new", "open", "pending")
BATCH = 2000


def _at_risk_from(created, due):
    if due is None or due <= created:
        return None
    return created + (due - created) * AT_RISK_SHARE


def at_risk_instants_backfill(apps, schema_editor):
    Ticket = apps.get_model("tickets", "Ticket")
    # Read first, then written: SQLite gives a cursor no isolation from the writes of its own
    # connection, and these writes take the rows out of the filter being read.
    unreckoned = list(
        Ticket.objects.filter(
            status__in=OPEN,
            first_response_at_risk_from__isnull=True,
            resolution_at_risk_from__isnull=True,
        )
        .order_by("pk")
        .values_list("pk", "created_at", "first_response_due_at", "resolution_due_at")
    )
    reckoned = []
    for pk, created, first_response_due, resolution_due in unreckoned:
        ticket = Ticket(
            pk=pk,
            first_response_at_risk_from=_at_risk_from(created, first_response_due),
            resolution_at_risk_from=_at_risk_from(created, resolution_due),
        )
        if ticket.first_response_at_risk_from or ticket.resolution_at_risk_from:
            reckoned.append(ticket)
    Ticket.objects.bulk_update(
        reckoned, ["first_response_at_risk_from", "resolution_at_risk_from"], batch_size=BATCH
    )


class Migration(migrations.Migration):
    dependencies = [("tickets", "0021_business_hours")]

    operations = [
        migrations.RunPython(at_risk_instants_backfill, migrations.RunPython.noop, elidable=True),
    ]
