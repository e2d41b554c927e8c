from django.contrib import admin, messages

from backend.challenges.admin import BenchmarkAdmin, OrganizerScopedAdmin
from backend.closed_division.admin import CodeRunInline, reverify_code

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
    inlines = [ScoreInline, CodeRunInline]
    actions = ["rerun", "cancel", reverify_code]

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


@admin.action(description="Re-score scored submissions (after an environment or data change)")
def rescore_benchmarks(modeladmin, request, queryset):
    """On the Benchmark admin (the general challenges app does not import submissions)."""
    for benchmark in queryset:
        count = services.rescore_benchmark(benchmark, by=request.user)
        modeladmin.message_user(
            request, f"{benchmark}: queued {count} scored submission(s) again, to be scored in the "
                     f"{benchmark.environment} environment.", messages.SUCCESS)


BenchmarkAdmin.actions = [*(BenchmarkAdmin.actions or []), rescore_benchmarks]
