"""The two roles of ops staff, as Django groups.

- "Ops (read-only)": sees every dashboard page and, in the admin, every billing and Salesforce
  sync record; may change nothing.
- "Ops operator": the same, plus the dashboard's actions: replay webhook events
  (billing.change_webhookevent) and push, retry, park and unpark Salesforce syncs
  (crm.change_contractsync), as dashboard/access.py checks them.

A group cannot make someone staff: the dashboard and the admin are for staff accounts, so an
administrator ticks "Staff status" and adds the user to one of the groups.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ_ONLY = "Ops (read-only)"
OPERATOR = "Ops operator"
APPS = ("billing", "crm")
OPERATOR_PERMISSIONS = (("billing", "change_webhookevent"), ("crm", "change_contractsync"))


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations ran; on a new database they do
    # not exist yet, so make them now for the apps the roles refer to.
    for label in APPS:
        config = apps.get_app_config(label)
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    viewing = Permission.objects.filter(content_type__app_label__in=APPS,
                                        codename__startswith="view_")
    read_only, _ = Group.objects.get_or_create(name=READ_ONLY)
    read_only.permissions.add(*viewing)
    operator, _ = Group.objects.get_or_create(name=OPERATOR)
    operator.permissions.add(*viewing)
    for app_label, codename in OPERATOR_PERMISSIONS:
        operator.permissions.add(Permission.objects.get(content_type__app_label=app_label,
                                                        codename=codename))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=(READ_ONLY, OPERATOR)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("billing", "0010_webhook_event_source_reconcile"),
        ("crm", "0005_products_renewals"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
