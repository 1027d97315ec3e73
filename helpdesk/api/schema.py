from drf_spectacular.utils import OpenApiResponse

from helpdesk.api.errors import ErrorSerializer

# Documented on every operation: the one error shape (see helpdesk.api.errors).
ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; see `errors`."),
    404: OpenApiResponse(ErrorSerializer, description="Not found."),
    429: OpenApiResponse(ErrorSerializer, description="Too many requests; see Retry-After."),
}


NO_NUL_PATTERN = r"^[^\u0000]*$"


def forbid_nul_in_request_strings(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: say in the schema what DRF enforces.

    DRF refuses NUL characters in every text field (a 400 naming the field); free-text request
    fields get a pattern that says so, so clients and schemathesis know the rule.
    """
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):
            continue
        for prop in component.get("properties", {}).values():
            if prop.get("type") == "string" and not {"format", "enum", "pattern"} & set(prop):
                prop["pattern"] = NO_NUL_PATTERN
    return result
