from django.contrib import admin, messages

from backend.challenges.admin import OrganizerScopedAdmin

from . import services
from .models import Score, Submission


class ScoreInline(admin.TabularInline):
    model = Score
    extra = 0
    readonly_fields = ("metric", "value")
    can_delete = False


@admin.register(Submission)
class SubmissionAdmin(OrganizerScopedAdmin):
    challenge_path = "benchmark__challenge"
    list_display = ("id", "benchmark", "phase", "user", "division", "status", "attempts", "created_at", "finished_at")
    list_filter = ("status", "division", "is_baseline", "benchmark__challenge", "benchmark")
    search_fields = ("user__username", "original_name", "failure_reason")
    readonly_fields = [f.name for f in Submission._meta.fields]
    inlines = [ScoreInline]  # backend.orchestration adds the extensions' inlines and actions
    actions = ["rerun", "cancel"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Re-run selected submissions")
    def rerun(self, request, queryset):
        for submission in queryset:
            services.rerun_submission(submission, by=request.user)
        self.message_user(request, f"Queued {queryset.count()} submission(s) again.", messages.SUCCESS)

    @admin.action(description="Cancel selected queued/running submissions")
    def cancel(self, request, queryset):
        done = 0
        for submission in queryset:
            try:
                services.cancel_submission(submission, by=request.user)
                done += 1
            except services.InvalidTransition as error:
                self.message_user(request, f"#{submission.pk}: {error}", messages.WARNING)
        self.message_user(request, f"Cancelled {done} submission(s).", messages.SUCCESS)
