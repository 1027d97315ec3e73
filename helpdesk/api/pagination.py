from __future__ import annotations

from rest_framework import pagination

from helpdesk.api import inputs


class PageNumberPagination(pagination.PageNumberPagination):
    """Page numbers with a bounded page size; a bad page size is a 400, not silently ignored."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request) -> int:
        return inputs.page_size(
            request,
            parameter=self.page_size_query_param,
            default=self.page_size,
            maximum=self.max_page_size,
        )

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            schema = parameter["schema"]
            if parameter["name"] == self.page_query_param:
                schema["minimum"] = 1
            elif parameter["name"] == self.page_size_query_param:
                schema.update(minimum=1, maximum=self.max_page_size, default=self.page_size)
        return parameters
