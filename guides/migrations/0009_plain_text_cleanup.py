"""Existing text without bidi override/isolate controls, names and titles on one line.

The plain-text fields (helpdesk.text) clean whatever is written from now on; this cleans what
was stored before. No schema change: the fields keep their columns (sqlmigrate shows no SQL).
"""

from django.db import migrations

from helpdesk.text import one_line, plain_text, stored_text_clean

FIELDS = {
    "Company": {"name": one_line, "support_phone": one_line, "support_hours": one_line},
    "Guide": {"title": one_line},
    "Step": {"title": one_line},
    "Attempt": {"contact_name": one_line, "description": plain_text},
    "StepOutcome": {"step_title": one_line, "note": plain_text},
    "Feedback": {"comment": plain_text},
}


def clean(apps, schema_editor):
    for model_name, fields in FIELDS.items():
        stored_text_clean(apps.get_model("guides", model_name), fields)


class Migration(migrations.Migration):
    dependencies = [("guides", "0008_feedback_one_per_visitor")]

    operations = [migrations.RunPython(clean, migrations.RunPython.noop, elidable=True)]
