"""Organizers' admin group gets the new CreatedItem permissions (the group's permissions are set when an
organizer is granted access, so groups made before this model existed lack them)."""
from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    config = apps.get_app_config("verification")
    config.models_module = True   # the migration state's stub has none; create_permissions skips such apps
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Organizers").first()
    if group is not None:
        group.permissions.add(*Permission.objects.filter(content_type__app_label="verification",
                                                         content_type__model="createditem"))


class Migration(migrations.Migration):
    dependencies = [("verification", "0002_created_item"), ("auth", "0012_alter_user_first_name_max_length"),
                    ("contenttypes", "0002_remove_content_type_name")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
