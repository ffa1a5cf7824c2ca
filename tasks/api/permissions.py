"""Who may do what. Every endpoint but health needs a token. Reading is open to
every token; operational writes (pause, resume, purge, queue limits, retrying
or deleting dead letters in bulk) need a staff user: `create_api_token NAME --staff`."""

from rest_framework.permissions import SAFE_METHODS, BasePermission


class StaffWrites(BasePermission):
    message = "This operation needs a staff user's token (manage.py create_api_token NAME --staff)."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        return request.method in SAFE_METHODS or user.is_staff
