"""Organizers run challenges from here. Each organizer sees only the challenges they organize."""
from django import forms
from django.contrib import admin, messages
from django.db import models
from django.utils.html import format_html

import evaluation
from backend.accounts.services import grant_organizer_access, revoke_unused_organizer_access
from backend.core.parsers import BoundedJSONFormField
from evaluation import environments as evaluation_environments

from . import services
from .models import Benchmark, Challenge, DatasetArtifact, Phase


class OrganizerScopedAdmin(admin.ModelAdmin):
    challenge_path = "challenge"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.challenge_path}__organizers": request.user}) if self.challenge_path else qs.filter(organizers=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "challenge" and not request.user.is_superuser:
            kwargs["queryset"] = Challenge.objects.filter(organizers=request.user)
        if db_field.name == "benchmark" and not request.user.is_superuser:
            kwargs["queryset"] = Benchmark.objects.filter(challenge__organizers=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def benchmark_type_choices() -> list[tuple[str, str]]:
    return [("", "---------")] + [(t.slug, f"{t.slug} ({t.title})") for t in evaluation.all_types()]


class BenchmarkTypeField:
    """The benchmark type is picked from the evaluation library's types. It was a free text box: an
    organizer had to know the slugs by heart, and a typo saved a benchmark no page or worker could load."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "type_slug":
            return forms.ChoiceField(choices=benchmark_type_choices, label="Type",
                                     help_text=db_field.help_text.replace(", e.g. speech-selection", ""))
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class PhaseInline(admin.StackedInline):
    model = Phase
    extra = 0
    exclude = ("leaderboard_version",)


class BenchmarkInline(BenchmarkTypeField, admin.TabularInline):
    model = Benchmark
    extra = 0
    fields = ("slug", "title", "task", "type_slug", "order", "weight")
    show_change_link = True


@admin.register(Challenge)
class ChallengeAdmin(OrganizerScopedAdmin):
    challenge_path = None
    list_display = ("title", "slug", "status", "created_at")
    list_filter = ("status",)
    prepopulated_fields = {"slug": ("title",)}
    filter_horizontal = ("organizers", "annotators")
    inlines = [PhaseInline, BenchmarkInline]
    actions = ["publish"]

    @admin.action(description="Publish selected challenges")
    def publish(self, request, queryset):
        for challenge in queryset:
            services.publish_challenge(challenge)
        self.message_user(request, f"Published {queryset.count()} challenge(s).", messages.SUCCESS)

    def save_related(self, request, form, formsets, change):
        # After the form's many-to-many save: adding the creator in save_model was undone by it (the
        # organizers box was empty), so an organizer lost the challenge they had just created.
        before = set(form.instance.organizers.all()) if change else set()
        super().save_related(request, form, formsets, change)
        if not change and not request.user.is_superuser:
            form.instance.organizers.add(request.user)
        for organizer in form.instance.organizers.filter(is_superuser=False):
            grant_organizer_access(organizer)  # as on the People page: an organizer runs it from here
        for removed in before - set(form.instance.organizers.all()):
            revoke_unused_organizer_access(removed)  # as on the People page


class StoredFileNameInput(forms.ClearableFileInput):
    """Shows a stored data file's name without a link. Media has no URL (hidden data must never be
    served; public data is downloaded from the benchmark page), so Django's usual "Currently: <link>"
    was a 404 — and a hint at where hidden files live."""

    template_name = "django/forms/widgets/file.html"  # the bare <input type="file">

    def render(self, name, value, attrs=None, renderer=None):
        field = super().render(name, None, attrs, renderer)
        if value and getattr(value, "name", None):
            return format_html('<span class="stored-file">Currently: {}</span><br>Replace: {}',
                               value.name.rsplit("/", 1)[-1], field)
        return field


class DatasetArtifactInline(admin.TabularInline):
    model = DatasetArtifact
    extra = 0
    readonly_fields = ("sha256", "size_bytes", "created_at")
    formfield_overrides = {models.FileField: {"widget": StoredFileNameInput}}


@admin.register(Benchmark)
class BenchmarkAdmin(BenchmarkTypeField, OrganizerScopedAdmin):
    list_display = ("__str__", "title", "type_slug", "task", "environment", "submission_count")
    list_filter = ("type_slug", "environment", "challenge")
    inlines = [DatasetArtifactInline]
    formfield_overrides = {models.JSONField: {"form_class": BoundedJSONFormField}}

    @admin.display(description="submissions")
    def submission_count(self, obj):
        return obj.submissions.count()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not evaluation_environments.is_built(obj.environment):
            self.message_user(request, (
                f"{obj}: the {obj.environment} environment is not built on this machine; run "
                f"`{evaluation_environments.build_command(obj.environment)}` on every worker machine, or its "
                "submissions fail with that sentence."), messages.WARNING)
        if change and "environment" in form.changed_data:
            self.message_user(request, (
                f"{obj}: existing scores were computed in another environment; use the action "
                "'Re-score scored submissions' to recompute them."), messages.WARNING)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, DatasetArtifact):
                services.fill_artifact_checksum(instance)
            instance.save()
        for deleted in formset.deleted_objects:
            deleted.delete()
        formset.save_m2m()
        if formset.model is DatasetArtifact and (instances or formset.deleted_objects) and form.instance.artifacts.exists():
            problem = services.check_attached_data(form.instance)
            if problem:
                self.message_user(request, f"{form.instance}: {problem}. Submissions to it fail until the data "
                                           "is fixed.", messages.ERROR)
            else:
                self.message_user(request, f"{form.instance}: the attached data loads, as a worker will unpack it.",
                                  messages.SUCCESS)
