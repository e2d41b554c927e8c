from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from backend.challenges.admin import OrganizerScopedAdmin

from . import services
from backend.challenges.models import Phase
from backend.challenges.services import bump_leaderboard

from .models import FinalSelection, Score, Submission


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
    # The file is shown as a link to the permission-checked download: media has no URL, so Django's
    # own link for a read-only file field was a 404.
    readonly_fields = [f.name if f.name != "file" else "file_download" for f in Submission._meta.fields]
    inlines = [ScoreInline]  # backend.orchestration adds the extensions' inlines and actions
    actions = ["rerun", "cancel"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="file")
    def file_download(self, obj):
        if not obj.file:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("api-submission-file", args=[obj.pk]), obj.original_name)

    def view_on_site(self, obj):
        """The "View on site" button: the submission's page, which follows its status live."""
        return reverse("submission-detail", args=[obj.pk])

    @admin.action(description="Re-run selected submissions")
    def rerun(self, request, queryset):
        pks = []
        for submission in queryset:
            services.rerun_submission(submission, by=request.user)
            pks.append(submission.pk)
        # Links to the live pages: this list does not refresh itself, so the organizer could not see the
        # re-run finish without reloading it by hand.
        links = format_html_join(", ", '<a href="{}">#{}</a>',
                                 ((reverse("submission-detail", args=[pk]), pk) for pk in pks[:20]))
        self.message_user(request, format_html("Queued {} submission(s) again. Follow them live: {}{}", len(pks),
                                               links, " …" if len(pks) > 20 else ""), messages.SUCCESS)

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


@admin.register(FinalSelection)
class FinalSelectionAdmin(OrganizerScopedAdmin):
    """A phase where participants choose which submissions count (off unless a row exists here)."""

    challenge_path = "phase__challenge"
    list_display = ("phase", "max_selected")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "phase" and not request.user.is_superuser:
            kwargs["queryset"] = Phase.objects.filter(challenge__organizers=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        bump_leaderboard(obj.phase_id)  # rows are now picked among selected submissions

    def delete_model(self, request, obj):
        phase_id = obj.phase_id
        super().delete_model(request, obj)
        bump_leaderboard(phase_id)

    def delete_queryset(self, request, queryset):
        phase_ids = list(queryset.values_list("phase_id", flat=True))
        super().delete_queryset(request, queryset)
        bump_leaderboard(*phase_ids)
