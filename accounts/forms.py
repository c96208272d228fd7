from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.core.validators import MaxLengthValidator

from accounts.models import NotificationPreference, TokenScope, timezone_names


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
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        # Django reads a naive input in the active zone: the user's display timezone.
        help_text="Optional, in your display timezone.",
    )

    def scopes(self) -> list[str]:
        return [TokenScope.READ, TokenScope.WRITE] if self.cleaned_data["write"] else [TokenScope.READ]


class TimezoneForm(forms.Form):
    display_timezone = forms.ChoiceField(
        required=False,
        label="Display timezone",
        help_text="Times on every page are shown in this zone.",
    )

    def __init__(self, *args, browser_label: str = "The browser's zone", **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["display_timezone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", browser_label), *((name, name) for name in sorted(timezone_names()))]


def _same_rules_as_signup(form: forms.Form, *names: str) -> None:
    """Django's password forms with the sign-up form's length rules and its plain help text (the
    default help is an HTML list, out of place under a single input)."""
    for name in names:
        field = form.fields[name]
        field.validators.append(MaxLengthValidator(settings.PASSWORD_MAX_LENGTH))
        field.widget.attrs["maxlength"] = str(settings.PASSWORD_MAX_LENGTH)
        field.help_text = ""
    form.fields[names[0]].help_text = f"{settings.PASSWORD_MIN_LENGTH} to {settings.PASSWORD_MAX_LENGTH} characters."


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _same_rules_as_signup(self, "new_password1", "new_password2")


class SetPasswordForm(auth_forms.SetPasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _same_rules_as_signup(self, "new_password1", "new_password2")
