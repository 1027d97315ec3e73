from django.apps import AppConfig

# The module, not the class: Django takes every AppConfig class in this module's names for a
# candidate default of the helpdesk app, and the admin's says it is one.
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class HelpdeskConfig(AppConfig):
    """The service's own tables (Idempotency-Key records); the project's settings, URLs and
    shared helpers live in this package too."""

    # This module holds the admin's config too: "helpdesk" in INSTALLED_APPS means this one.
    default = True
    name = "helpdesk"
    verbose_name = _("Helpdesk")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from helpdesk.staff_language import staff_language_remember

        user_logged_in.connect(staff_language_remember, dispatch_uid="staff_language_remember")


class HelpdeskAdminConfig(admin_apps.AdminConfig):
    """Django's admin with helpdesk.admin_site.HelpdeskAdminSite as ``admin.site``; listed in
    INSTALLED_APPS by its dotted path, in the place of "django.contrib.admin"."""

    default = False

    default_site = "helpdesk.admin_site.HelpdeskAdminSite"
