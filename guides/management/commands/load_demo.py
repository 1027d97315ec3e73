from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

DEMO_GUIDES = Path(__file__).resolve().parents[2] / "demo_guides"

# Demo-only accounts with published passwords: never load them into a real deployment.
DEMO_USERS = [
    {
        "username": "supervisor",
        "password": "demo-supervisor-2026",
        "first_name": "Salma",
        "last_name": "Haddad",
        "email": "supervisor@helpdesk.example",
        "is_superuser": True,
        "note": "supervisor (all of the admin)",
    },
    {
        "username": "agent.ar",
        "password": "demo-agent-ar-2026",
        "first_name": "Karim",
        "last_name": "Nassar",
        "email": "karim@helpdesk.example",
        "is_superuser": False,
        "note": "agent, speaks Arabic",
    },
    {
        "username": "agent.en",
        "password": "demo-agent-en-2026",
        "first_name": "Emma",
        "last_name": "Clarke",
        "email": "emma@helpdesk.example",
        "is_superuser": False,
        "note": "agent, speaks English",
    },
]


class Command(BaseCommand):
    help = "Load the demo guides (through import_guides) and the demo users. DEBUG only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="load even with DEBUG off (the demo passwords are public: never in production)",
        )

    def handle(self, *args, force: bool, verbosity: int, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "refusing to load demo users with public passwords while DEBUG is off"
                " (use --force on a throw-away installation)"
            )
        call_command("import_guides", str(DEMO_GUIDES), verbosity=verbosity)
        with transaction.atomic():
            for spec in DEMO_USERS:
                self._user_upsert(spec)
        self.stdout.write("Demo accounts (demo only, passwords are public):")
        for spec in DEMO_USERS:
            self.stdout.write(f"  {spec['username']:<11} {spec['password']:<22} {spec['note']}")

    def _user_upsert(self, spec: dict) -> None:
        user_model = get_user_model()
        user, _created = user_model.objects.get_or_create(username=spec["username"])
        user.first_name = spec["first_name"]
        user.last_name = spec["last_name"]
        user.email = spec["email"]
        user.is_staff = True
        user.is_superuser = spec["is_superuser"]
        user.set_password(spec["password"])
        user.save()
