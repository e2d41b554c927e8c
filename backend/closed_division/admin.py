"""Organizers: sandbox settings per phase, concealed tasks per benchmark, code runs (also shown
inline on each submission, with a "re-run the verification" action)."""
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

import evaluation
from backend.challenges.admin import OrganizerScopedAdmin
from backend.challenges.models import Phase

from . import services
from .models import CodeRun, ConcealedRun, ConcealedTask, SandboxSettings


@admin.register(SandboxSettings)
class SandboxSettingsAdmin(OrganizerScopedAdmin):
    challenge_path = "phase__challenge"
    list_display = ("phase", "closed_division_open", "wall_seconds", "memory_mb", "max_processes", "output_mb",
                    "concealed_scores_visible")
    list_editable = ("concealed_scores_visible",)

    @admin.display(boolean=True, description="closed division open")
    def closed_division_open(self, obj):
        return obj.phase.closed_division

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "phase" and not request.user.is_superuser:
            kwargs["queryset"] = Phase.objects.filter(challenge__organizers=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        services.save_sandbox_settings(obj)


class ConcealedTaskForm(forms.ModelForm):
    data = forms.FileField(
        required=False, help_text="A zip of the task's data directory in the benchmark type's official layout "
                                  "(required when adding; uploading again replaces the data). It is split like a "
                                  "benchmark's data: the public part is what the algorithm receives in the sandbox.")

    class Meta:
        model = ConcealedTask
        fields = ("benchmark", "name", "order", "config", "data")

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("data")
        if self.instance.pk is None and upload is None:
            raise ValidationError({"data": "Upload the concealed task's data (zip)."})
        if upload is not None and cleaned.get("benchmark") and cleaned.get("name") and not self.errors:
            try:
                # Validates (loads the problem), splits and stores; the admin then saves this task.
                self.instance = services.attach_concealed_zip(
                    cleaned["benchmark"], upload.read(), name=cleaned["name"], config=cleaned.get("config") or {},
                    order=cleaned.get("order") or 0)
            except (evaluation.DataError, ValueError) as error:
                raise ValidationError({"data": str(error)}) from None
        return cleaned


@admin.register(ConcealedTask)
class ConcealedTaskAdmin(OrganizerScopedAdmin):
    challenge_path = "benchmark__challenge"
    form = ConcealedTaskForm
    list_display = ("name", "benchmark", "order", "size_bytes", "created_at")
    list_filter = ("benchmark__challenge",)
    readonly_fields = ("public_sha256", "hidden_sha256", "size_bytes", "created_at")


class CodeRunInline(admin.StackedInline):
    """On the Submission admin page."""

    model = CodeRun
    extra = 0
    can_delete = False
    exclude = ("run_token",)
    readonly_fields = [f.name for f in CodeRun._meta.fields if f.name not in ("id", "submission", "run_token")]

    def has_add_permission(self, request, obj=None):
        return False


@admin.action(description="Re-run the code verification (closed division)")
def reverify_code(modeladmin, request, queryset):
    done = 0
    for submission in queryset:
        try:
            services.reverify(submission, by=request.user)
            done += 1
        except services.NoCode as error:
            modeladmin.message_user(request, f"#{submission.pk}: {error}", messages.WARNING)
    modeladmin.message_user(request, f"Queued the code of {done} submission(s) again.", messages.SUCCESS)


class ConcealedRunInline(admin.TabularInline):
    model = ConcealedRun
    extra = 0
    can_delete = False
    readonly_fields = ("task", "status", "message", "scores", "wall_seconds", "peak_memory_bytes", "stdout", "stderr")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CodeRun)
class CodeRunAdmin(OrganizerScopedAdmin):
    challenge_path = "submission__benchmark__challenge"
    list_display = ("submission", "status", "concealed_status", "concealed_score", "wall_seconds", "finished_at")
    list_filter = ("status", "concealed_status", "submission__benchmark__challenge")
    exclude = ("run_token",)
    readonly_fields = [f.name for f in CodeRun._meta.fields if f.name not in ("id", "run_token")]
    inlines = [ConcealedRunInline]
    actions = ["reverify"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Re-run the code verification")
    def reverify(self, request, queryset):
        for run in queryset.select_related("submission"):
            services.reverify(run.submission, by=request.user)
        self.message_user(request, f"Queued {queryset.count()} code run(s) again.", messages.SUCCESS)
