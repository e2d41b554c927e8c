"""Admin parts that span apps: the closed division's code run on the Submission page, and re-scoring a
benchmark's submissions from the Benchmark page (challenges does not import submissions)."""
from django.contrib import admin, messages

from backend.challenges.admin import BenchmarkAdmin
from backend.closed_division.admin import CodeRunInline, reverify_code
from backend.submissions import services
from backend.submissions.admin import SubmissionAdmin

SubmissionAdmin.inlines = [*SubmissionAdmin.inlines, CodeRunInline]
SubmissionAdmin.actions = [*SubmissionAdmin.actions, reverify_code]


@admin.action(description="Re-score scored submissions (after an environment or data change)")
def rescore_benchmarks(modeladmin, request, queryset):
    for benchmark in queryset:
        try:
            count = services.rescore_benchmark(benchmark, by=request.user)
        except services.SubmissionRejected as error:
            modeladmin.message_user(request, error.message, messages.ERROR)
            continue
        modeladmin.message_user(
            request, f"{benchmark}: queued {count} scored submission(s) again, to be scored in the "
                     f"{benchmark.environment} environment.", messages.SUCCESS)


BenchmarkAdmin.actions = [*(BenchmarkAdmin.actions or []), rescore_benchmarks]
