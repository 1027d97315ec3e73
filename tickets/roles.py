"""The staff roles, as Django groups, and the permissions each one holds.

Groups are created by a migration and brought back in line with this table after every
``migrate`` (tickets.apps), so a permission added here reaches existing installs and one
removed here is taken away. Object-level limits (an agent sees only their queues' tickets) are
applied on top by tickets.selectors.tickets_visible_to, in the admin and the API alike.
"""

from __future__ import annotations

AGENT = "Agent"
SUPERVISOR = "Supervisor"
AUTHOR = "Author"

_AGENT_PERMISSIONS = (
    # Work the tickets of their queues: read, reply, note, change status and priority, claim.
    "tickets.view_ticket",
    "tickets.change_ticket",
    "tickets.claim_ticket",
    "tickets.view_ticketevent",
    # Read the desk's canned replies (they use them on the work page; supervisors write them).
    "tickets.view_cannedreply",
    # Read the guide a customer followed.
    "guides.view_guide",
    "guides.view_step",
)

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    AGENT: _AGENT_PERMISSIONS,
    SUPERVISOR: (
        *_AGENT_PERMISSIONS,
        "tickets.view_all_queues",
        "tickets.reassign_ticket",
        *(
            f"tickets.{action}_{model}"
            for model in (
                "queue",
                "agentprofile",
                "routingrule",
                "slapolicy",
                "cannedreply",
                "businessschedule",
                "workinghours",
                "holiday",
            )
            for action in ("add", "change", "delete", "view")
        ),
        # Webhooks out: register, change, remove endpoints; read and redeliver their log.
        *(f"tickets.{action}_webhookendpoint" for action in ("add", "change", "delete", "view")),
        "tickets.view_webhookdelivery",
        "tickets.add_apitoken",
        "tickets.change_apitoken",
        "tickets.view_apitoken",
        # Received e-mails: what was taken and what was refused, and why (docs/email.md).
        "tickets.view_inboundemail",
        # Agent profiles point at users: choosing one needs to see them.
        "auth.view_user",
        # Reports: what customers tried and said.
        "guides.view_attempt",
        "guides.view_feedback",
        "guides.view_company",
        # The content gaps of every company (guides.gaps), and marking them handled.
        "guides.view_content_gaps",
        "guides.view_all_content_gaps",
        "guides.handle_content_gaps",
        # Decide on the steps agents propose, for every company's guides.
        "guides.view_stepproposal",
        "guides.change_stepproposal",
        "guides.decide_any_stepproposal",
        # The statistics of every guide (guides.statistics).
        "guides.view_all_statistics",
        # Admin sign-in lockouts (django-axes): see them, and lift one by deleting its attempts.
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "axes.view_accessfailurelog",
        "axes.view_accesslog",
    ),
    AUTHOR: (
        *(
            f"guides.{action}_{model}"
            for model in ("guide", "step", "tag")
            for action in ("add", "change", "delete", "view")
        ),
        "guides.view_company",
        "guides.view_attempt",
        "guides.view_feedback",
        # The content gaps of the companies they write for (Company.authors).
        "guides.view_content_gaps",
        "guides.handle_content_gaps",
        # Decide on the steps agents propose for the guides of their companies
        # (guides.Company.authors; guides.selectors.user_decides_for_guide).
        "guides.view_stepproposal",
        "guides.change_stepproposal",
        # The statistics of the guides of the companies they write for (Company.authors).
        "guides.view_statistics",
    ),
}


def roles_sync(apps=None) -> None:
    """Create the role groups and set their permissions to exactly ROLE_PERMISSIONS.

    ``apps`` is a migration's app registry, or None for the live one. Permissions of apps that
    are not migrated yet are skipped; the post-migrate sync adds them later.
    """
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codes in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        wanted = []
        for code in codes:
            app_label, codename = code.split(".")
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is not None:
                wanted.append(permission)
        group.permissions.set(wanted)
