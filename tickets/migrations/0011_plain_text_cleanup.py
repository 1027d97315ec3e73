"""Existing text without bidi override/isolate controls, names and subjects on one line.

The plain-text fields (helpdesk.text) clean whatever is written from now on; this cleans what
was stored before. No schema change: the fields keep their columns (sqlmigrate shows no SQL).
"""

from django.db import migrations

from helpdesk.text import one_line, plain_text, stored_text_clean

FIELDS = {
    "Queue": {"name": one_line},
    "RoutingRule": {"name": one_line, "keywords": one_line},
    "Ticket": {"subject": one_line, "requester_name": one_line, "description": plain_text},
    "TicketEvent": {"body": plain_text},
    "ApiToken": {"name": one_line},
}


def clean(apps, schema_editor):
    for model_name, fields in FIELDS.items():
        stored_text_clean(apps.get_model("tickets", model_name), fields)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0010_assignee_queue_index")]

    operations = [migrations.RunPython(clean, migrations.RunPython.noop, elidable=True)]
