from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Team, User


@admin.register(User)
class PlatformUserAdmin(UserAdmin):
    list_display = ("username", "email", "role", "is_staff", "date_joined")
    list_filter = ("role", "is_staff", "is_superuser")
    fieldsets = UserAdmin.fieldsets + (("Platform", {"fields": ("role", "affiliation")}),)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "challenge", "created_by", "created_at")
    list_filter = ("challenge",)
    filter_horizontal = ("members",)
    search_fields = ("name",)
    exclude = ("invite_token", "invite_created_at")
