"""WSGI entry point; the production web server (granian, queueproject/webserver.py) serves this."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "queueproject.settings")
# A thread per request in progress: share a pool of connections (see settings).
os.environ.setdefault("DB_POOL", "true")

application = get_wsgi_application()
