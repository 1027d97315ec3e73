from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GuidesConfig(AppConfig):
    name = "guides"
    verbose_name = _("Self-help guides")

    def ready(self) -> None:
        # Its receivers tell every process of an edit that guide pages show, whoever makes it.
        from guides import page_cache  # noqa: F401
