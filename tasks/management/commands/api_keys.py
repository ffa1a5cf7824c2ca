"""manage.py api_keys [--user NAME] [--revoke PREFIX ...]: list API keys, or revoke some."""

from django.core.management.base import BaseCommand, CommandError

from tasks.access import keys


class Command(BaseCommand):
    help = ("List API keys (prefix, name, user, scopes, state, created, last used, expires), legacy tokens "
            "included; --revoke PREFIX revokes keys (deletes legacy tokens) by their 8-character prefix.")

    def add_arguments(self, parser):
        parser.add_argument("--user", help="Only this user's keys.")
        parser.add_argument("--revoke", nargs="+", metavar="PREFIX", help="Revoke these keys.")
        parser.add_argument("--hash-legacy", action="store_true",
                            help="Replace every legacy token by a key holding its hash: clients keep working, "
                                 "the database loses the clear text.")

    def handle(self, *args, user, revoke, hash_legacy, **options):
        if hash_legacy:
            converted, skipped = keys.hash_legacy()
            self.stdout.write(f"Hashed {converted} legacy token(s); none is left in clear.")
            if skipped:
                raise CommandError(f"Left in clear, their prefix being a key's already: {', '.join(skipped)}; "
                                   "rotate them (create_api_token, then api_keys --revoke).")
            return
        if revoke:
            count = keys.revoke(revoke)
            if count == 0:
                raise CommandError(f"No active key or legacy token has the prefix {', '.join(revoke)}.")
            self.stdout.write(f"Revoked {count} key(s); other web processes refuse them within "
                              "QUEUE_API_TOKEN_CACHE seconds.")
            return
        rows = keys.listing(user)
        self.stdout.write(f"{'PREFIX':9} {'STATE':8} {'USER':16} {'NAME':20} {'SCOPES':28} {'CREATED':17} "
                          f"{'LAST USED':17} EXPIRES")
        for row in rows:
            self.stdout.write(f"{row.prefix:9} {row.state:8} {row.user[:16]:16} {row.name[:20]:20} "
                              f"{','.join(row.scopes) or '(its user)':28} {_when(row.created):17} "
                              f"{_when(row.last_used):17} {_when(row.expires)}")


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"
