"""The service's own models in the admin: admin sign-in lockouts (django-axes), which
supervisors see and lift (tickets/roles.py grants it)."""

from axes import admin as axes_admin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin

from helpdesk.lockout import AccessAttemptAdmin

# AXES_ENABLE_ADMIN is off, so axes does not register its own list of attempts first.
admin.site.register(AccessAttempt, AccessAttemptAdmin)
admin.site.register(AccessLog, axes_admin.AccessLogAdmin)
admin.site.register(AccessFailureLog, axes_admin.AccessFailureLogAdmin)
