from django.contrib import admin

from backend.challenges.admin import OrganizerScopedAdmin

from .models import CreatedItem, ProposedItem, Round, RoundScore, Target, Verification


class VerificationInline(admin.TabularInline):
    model = Verification
    extra = 0
    readonly_fields = ("annotator", "verdict", "corrected_label", "reason", "is_override", "created_at")
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Target)
class TargetAdmin(OrganizerScopedAdmin):
    """Read-only: verdicts change through votes and the organizers' console (/verify/.../manage/)."""

    challenge_path = "benchmark__challenge"
    list_display = ("item_id", "label", "benchmark", "status", "resolved_by", "vote_count", "fooling", "promoted_round")
    list_filter = ("status", "resolved_by", "fooling", "benchmark")
    search_fields = ("item_id", "label")
    readonly_fields = [f.name for f in Target._meta.fields]
    inlines = [VerificationInline]

    def has_add_permission(self, request):
        return False


@admin.register(ProposedItem)
class ProposedItemAdmin(OrganizerScopedAdmin):
    challenge_path = "submission__benchmark__challenge"
    list_display = ("submission", "target", "model_fooled", "wrong_votes", "suite_size", "novelty")
    readonly_fields = [f.name for f in ProposedItem._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Round)
class RoundAdmin(OrganizerScopedAdmin):
    challenge_path = "benchmark__challenge"
    list_display = ("benchmark", "number", "started_at", "started_by")
    readonly_fields = [f.name for f in Round._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(RoundScore)
class RoundScoreAdmin(OrganizerScopedAdmin):
    challenge_path = "round__benchmark__challenge"
    list_display = ("round", "submission", "status", "value", "updated_at")
    readonly_fields = [f.name for f in RoundScore._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(CreatedItem)
class CreatedItemAdmin(OrganizerScopedAdmin):
    """Read-only: items are created on the benchmark's creation page; the raw form opens in the
    role-scoped view (/verify/<challenge>/<benchmark>/created/<id>/raw/), never from a media URL."""

    challenge_path = "benchmark__challenge"
    list_display = ("id", "benchmark", "kind", "label", "user", "team", "submission", "created_at")
    list_filter = ("kind", "benchmark")
    search_fields = ("label", "text", "user__username")
    readonly_fields = [f.name for f in CreatedItem._meta.fields if f.name not in ("features", "raw_file")]
    exclude = ("features", "raw_file")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
