"""Re-index the guides: the search rows now carry Arabic stems beside the words.

Runs the application's own rebuild (guides.search), so that the index is written exactly as
the running code writes and reads it; a database with no search rows (a new one) skips it.
"""

from django.db import migrations


def rebuild(apps, schema_editor):
    GuideSearchDocument = apps.get_model("guides", "GuideSearchDocument")
    if not GuideSearchDocument.objects.using(schema_editor.connection.alias).exists():
        return
    from guides.search import guide_search_index_rebuild

    guide_search_index_rebuild()


class Migration(migrations.Migration):
    dependencies = [("guides", "0006_verbose_names")]

    # Backwards there is nothing to undo: the rows of the previous code are a subset.
    operations = [migrations.RunPython(rebuild, migrations.RunPython.noop)]
