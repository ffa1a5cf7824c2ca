"""The ASGI application of the WebSocket listener (GET /ws; tasks/api/websocket.py),
served by `python -m queueproject.webserver --ws`."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "queueproject.settings")
django.setup()

from tasks.api.websocket import application  # noqa: E402 - after setup

__all__ = ["application"]
