"""ASGI entry point; the production web server (uvicorn) serves this."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "queueproject.settings")

application = get_asgi_application()
