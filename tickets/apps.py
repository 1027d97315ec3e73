from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _roles_sync(sender, **kwargs) -> None:
    from tickets.roles import roles_sync

    roles_sync()


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        # After every migrate, once all permissions exist: keeps the role groups exactly as
        # tickets/roles.py says (the migration that created them ran before some permissions).
        post_migrate.connect(_roles_sync, sender=self, dispatch_uid="tickets-roles-sync")
        # The receivers that turn the services' signals (tickets.signals) into Celery tasks
        # sent after commit live in tickets.tasks; importing it here connects them in every
        # process, not only in the workers that load the tasks.
        # Its receiver of anymail's inbound signal: a provider's webhook is taken by the web
        # process, which may not have imported the view yet.
        from tickets import (
            inbound_webhook,  # noqa: F401
            tasks,  # noqa: F401
        )
