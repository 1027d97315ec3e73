from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.defaults import page_not_found

from helpdesk import health
from helpdesk.api.errors import error_body


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    status = health.status()
    return JsonResponse(status, status=200 if status["ok"] else 503)


def not_found(request: HttpRequest, exception: Exception):
    # Unknown API paths answer in the API's error shape, not with an HTML page.
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(404, "not_found", "Not found."), status=404)
    return page_not_found(request, exception)
