"""Dashboard forms of notifications."""

from django import forms


class DeliveryForm(forms.Form):
    email_alerts = forms.BooleanField(required=False, label="Email me alerts")
    webhook_url = forms.URLField(
        required=False,
        max_length=2048,
        assume_scheme="https",
        label="Alert webhook URL",
        help_text="Receives each alert as a JSON POST.",
    )
    webhook_secret = forms.CharField(
        required=False,
        max_length=256,
        label="Webhook secret",
        help_text="Signs deliveries: X-Chronoverse-Signature: sha256=<HMAC>.",
    )
