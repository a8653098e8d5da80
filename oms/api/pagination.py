from rest_framework.pagination import CursorPagination as DrfCursorPagination


class CursorPagination(DrfCursorPagination):
    """Cursor pagination for every list: stable under inserts, constant cost at any depth."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "id"
