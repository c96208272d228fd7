from django import forms
from django.conf import settings

from accounts.models import NotificationPreference, TokenScope


class LoginForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    password = forms.CharField(
        max_length=128, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class SignupForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    password = forms.CharField(
        min_length=settings.PASSWORD_MIN_LENGTH,
        max_length=settings.PASSWORD_MAX_LENGTH,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=f"{settings.PASSWORD_MIN_LENGTH} to {settings.PASSWORD_MAX_LENGTH} characters.",
    )
    password_again = forms.CharField(
        max_length=128, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        data = super().clean()
        assert data is not None  # forms.Form.clean returns cleaned_data
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data


class PreferenceForm(forms.Form):
    notification_preference = forms.ChoiceField(choices=NotificationPreference.choices)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100)
    write = forms.BooleanField(required=False, label="Allow writes")
    expires_at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="Optional, UTC."
    )

    def scopes(self) -> list[str]:
        return [TokenScope.READ, TokenScope.WRITE] if self.cleaned_data["write"] else [TokenScope.READ]
