"""Jobs for platform operators (superusers): what is queued, running, unpublished or given up, with each
job's own log. Organizers follow their submissions and code runs on those pages instead."""
from django.contrib import admin

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "subject_id", "status", "attempts", "queued_at", "published_at", "heartbeat_at",
                    "finished_at")
    list_filter = ("status", "kind")
    search_fields = ("=subject_id", "message", "publish_error")
    exclude = ("run_token",)
    readonly_fields = [f.name for f in Job._meta.fields if f.name not in ("id", "run_token")]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
