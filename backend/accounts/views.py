from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from backend.core.errors import Rejected
from backend.core.throttling import SignupRateThrottle, throttled_page

from . import services
from .models import User


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=False, help_text="Needed for password resets and notifications by email.")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


@require_http_methods(["GET", "POST"])
@throttled_page(SignupRateThrottle)
def signup(request):
    form = SignupForm(request.POST or None)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.method == "POST" and form.is_valid():
        user = form.save()  # new accounts are participants; organizers are promoted in the admin
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        # Back to where they came from (e.g. a team's invitation link), if it is a page of this site.
        if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
            return redirect(next_url)
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form, "next": next_url})


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request):
    """Show the user's API token; POST makes a new one (the old one stops working)."""
    if request.method == "POST":
        services.regenerate_token(request.user)
    token, _ = Token.objects.get_or_create(user=request.user)
    return render(request, "accounts/token.html", {"token": token.key})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    """Name, affiliation, email; the user's teams; the API token (show / make a new one)."""
    user = request.user
    errors = {}
    if request.method == "POST":
        if request.POST.get("action") == "regenerate-token":
            services.regenerate_token(user)
            messages.success(request, "A new API token was made; the old one no longer works.")
            return redirect("profile")
        try:
            services.update_profile(user=user, first_name=request.POST.get("first_name", ""),
                                    last_name=request.POST.get("last_name", ""),
                                    affiliation=request.POST.get("affiliation", ""), email=request.POST.get("email", ""))
        except Rejected as rejected:
            errors[rejected.field] = rejected.message
        else:
            messages.success(request, "Profile saved.")
            return redirect("profile")
    token, _ = Token.objects.get_or_create(user=user)
    return render(request, "accounts/profile.html", {
        "profile_user": user, "errors": errors, "values": request.POST if errors else None,
        "teams": user.teams.select_related("challenge").order_by("name"), "token": token.key,
    }, status=400 if errors else 200)


@login_required
def notifications(request):
    """The user's notifications, newest first; opening the page marks them read."""
    items = list(request.user.notifications.all()[:100])
    unread = {n.pk for n in items if n.read_at is None}
    services.mark_read(request.user)
    return render(request, "accounts/notifications.html", {"items": items, "unread": unread})
