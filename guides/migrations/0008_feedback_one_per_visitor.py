"""One answer to "was this helpful?" per visitor and guide: the hashed visitor (guides.visitors)
beside the attempt. Existing answers have no voter and are left as they are."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("guides", "0007_search_arabic_stems"),
    ]

    operations = [
        migrations.AddField(
            model_name="feedback",
            name="voter",
            field=models.CharField(blank=True, editable=False, max_length=64, verbose_name="voter"),
        ),
        migrations.AddConstraint(
            model_name="feedback",
            constraint=models.UniqueConstraint(
                condition=models.Q(("voter", ""), _negated=True),
                fields=("guide", "voter"),
                name="feedback_one_per_visitor",
            ),
        ),
    ]
