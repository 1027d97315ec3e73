from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from helpdesk import health
from helpdesk.api.errors import error_body


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Every check (helpdesk.health); 503 when one fails, so a probe needs only the status."""
    status = health.status()
    return JsonResponse(status, status=200 if status["ok"] else 503)


@csrf_exempt  # answers every method with 404; a POST must not get the CSRF page instead
def api_not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body(404, "not_found", "Not found."), status=404)
