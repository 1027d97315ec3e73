from drf_spectacular.utils import OpenApiResponse

from helpdesk.api.errors import ErrorSerializer

# Documented on every operation: the one error shape (see helpdesk.api.errors).
ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; see `errors`."),
    404: OpenApiResponse(ErrorSerializer, description="Not found."),
    429: OpenApiResponse(ErrorSerializer, description="Too many requests; see Retry-After."),
}
