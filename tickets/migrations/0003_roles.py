"""The Agent, Supervisor and Author groups (tickets/roles.py). Later changes to the roles are
applied by the post-migrate sync in tickets.apps, which runs after every migrate."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def roles_create(apps, schema_editor):
    from tickets.roles import roles_sync

    # Permissions are normally created after all migrations ran; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_sync(apps)


def roles_remove(apps, schema_editor):
    from tickets.roles import ROLE_PERMISSIONS

    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLE_PERMISSIONS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("guides", "0005_attempt_without_guide"),
        ("tickets", "0002_agent_workspace"),
    ]

    operations = [migrations.RunPython(roles_create, roles_remove)]
