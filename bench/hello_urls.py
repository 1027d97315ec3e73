"""The project's URLs behind one bench-only route (see bench/hello_wsgi.py)."""

from django.http import HttpResponse
from django.urls import path

from helpdesk import urls as project


def hello(request):
    return HttpResponse("hello", content_type="text/plain; charset=utf-8")


urlpatterns = [path("bench-hello/", hello), *project.urlpatterns]
# The project's error views, as the root configuration they come from declares them.
for _name in ("handler400", "handler403", "handler404", "handler500"):
    if hasattr(project, _name):
        globals()[_name] = getattr(project, _name)
