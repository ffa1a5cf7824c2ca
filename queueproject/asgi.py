"""ASGI entry point, for servers that speak ASGI only (the production web server
serves queueproject.wsgi: every view is synchronous)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "queueproject.settings")
# One thread per request under ASGI: share a pool of connections (see settings).
os.environ.setdefault("DB_POOL", "true")

application = get_asgi_application()
