from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HelpdeskConfig(AppConfig):
    """The service's own tables (Idempotency-Key records); the project's settings, URLs and
    shared helpers live in this package too."""

    name = "helpdesk"
    verbose_name = _("Helpdesk")
