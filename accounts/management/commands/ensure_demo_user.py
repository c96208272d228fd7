from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User


class Command(BaseCommand):
    help = "Create the demo account (a staff user) if it does not exist, and print its login."

    def handle(self, *args, **options) -> None:
        email = settings.DEMO_USER_EMAIL
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_superuser(email=email, password=settings.DEMO_USER_PASSWORD)
            self.stdout.write(self.style.SUCCESS("Created the demo account."))
        self.stdout.write(f"Demo login: {email} / {settings.DEMO_USER_PASSWORD}  (http://127.0.0.1:8000/)")
