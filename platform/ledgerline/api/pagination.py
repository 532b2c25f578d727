from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int | None:
        # DRF takes an empty page for the first and falls back to the default on a page_size it
        # cannot read; say so instead. (A page past the last stays DRF's 404.)
        page = request.query_params.get(self.page_query_param)
        if page is not None and not _whole(page, 1):
            raise ValidationError({self.page_query_param: ["a whole number from 1"]})
        asked = request.query_params.get(self.page_size_query_param)
        if asked is not None and not _whole(asked, 1, self.max_page_size):
            raise ValidationError({self.page_size_query_param: [f"a whole number from 1 to {self.max_page_size}"]})
        return super().get_page_size(request)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
            else:
                parameter["schema"].update(minimum=1)
        return parameters


def _whole(text: str, low: int, high: int | None = None) -> bool:
    return text.isascii() and text.isdigit() and low <= int(text) and (high is None or int(text) <= high)
