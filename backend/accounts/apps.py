from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "backend.accounts"
    label = "accounts"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from .lockout import remember_device

        user_logged_in.connect(remember_device, dispatch_uid="accounts.remember_device")
