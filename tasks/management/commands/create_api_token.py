"""manage.py create_api_token NAME [--scope ...] [--expires ...]: a new API key
for user NAME, printed once (stdout holds only the key, so scripts can capture it)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from queueproject import serving
from tasks.access import keys
from tasks.access import Scope


class Command(BaseCommand):
    help = (
        "Create a new API key for user NAME (creating the user when missing) and print it; it is stored "
        "hashed and never shown again. Only the key goes to stdout: TOKEN=$(python manage.py create_api_token ci). "
        "Clients send it as 'Authorization: Token <key>'. Which database it was written to goes to stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The user the key acts as (created when missing).")
        parser.add_argument("--scope", action="append", default=[], metavar="SCOPE",
                            help=f"What the key may do: {', '.join(Scope.values)} (repeat, or separate with commas; "
                                 "default read,enqueue; --staff: all).")
        parser.add_argument("--expires", help="When the key stops working: 30m, 12h, 90d, 2w, or a date (default: never).")
        parser.add_argument("--key-name", help="A label for the key (default: the user's name).")
        parser.add_argument("--staff", action="store_true",
                            help="Make the user staff (the dashboard and admin) and give the key every scope.")
        parser.add_argument("--any-database", action="store_true",
                            help="Write the key even when a running `manage.py serve` uses another database.")

    def handle(self, *args, name, scope, expires, key_name, staff, any_database, **options):
        try:
            scopes = keys.parse_scopes(scope) or (list(Scope) if staff else list(keys.DEFAULT_SCOPES))
            expiry = keys.parse_expiry(expires, timezone.now()) if expires else None
        except ValueError as error:
            raise CommandError(str(error)) from None
        if not any_database and (problem := serving.mismatch(connection.settings_dict)):
            raise CommandError(problem)
        row, key = keys.issue(name, scopes, expiry, key_name, staff=staff)
        self.stdout.write(key)
        until = f", expires {row.expiry_date:%Y-%m-%d %H:%M %Z}" if row.expiry_date else ""
        self.stderr.write(f"New API key {row.prefix}... for {name} (scopes: {', '.join(row.scopes)}{until}) "
                          f"written to {serving.describe(connection.settings_dict)}.")
