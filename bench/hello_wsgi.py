"""The project's WSGI application with one more route, for bench/guide_page.py only.

``/bench-hello/`` is a bare Django view (a fixed plain-text answer) served by the same
application, middleware and gunicorn as every page of the project: the guide page's
requests/s over this view's is the share of a request's cost that the page itself adds.
No production URL configuration includes this module.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

from django.conf import settings
from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
# Read on each request (django.urls.get_resolver), so setting it before the first one is enough.
settings.ROOT_URLCONF = "bench.hello_urls"
