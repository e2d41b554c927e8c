"""Role checks shared by API views and pages. Queries are scoped in each app's selectors."""
from rest_framework.permissions import BasePermission


class IsOrganizer(BasePermission):
    message = "Only organizers may do this."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_organizer)
