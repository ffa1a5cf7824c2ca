"""manage.py create_api_token NAME: print an API token for user NAME, and nothing else."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = (
        "Print the API token of user NAME (creating the user and the token when missing). "
        "Only the token is printed, so scripts can capture it: TOKEN=$(python manage.py create_api_token ci). "
        "Clients send it as 'Authorization: Token <token>'."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--staff", action="store_true",
                            help="Make the user staff: allowed to use the operational endpoints and the dashboard.")

    def handle(self, *args, name, staff, **options):
        user, _ = get_user_model().objects.get_or_create(username=name)
        if staff and not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
