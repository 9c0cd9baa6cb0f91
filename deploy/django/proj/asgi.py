"""ASGI entry point of the benchd reference target.

Served by, for example:
    gunicorn -k uvicorn_worker.UvicornWorker -w 2 -b 127.0.0.1:8000 proj.asgi:application
(uvicorn_worker is the uvicorn-worker package; uvicorn.workers is deprecated.)
    hypercorn -k asyncio -w 2 -b 127.0.0.1:8000 proj.asgi:application
    hypercorn -k uvloop -w 2 -b 127.0.0.1:8000 proj.asgi:application
Django (5.2 included) does not speak the ASGI lifespan protocol: both servers log that
once per worker at start and carry on.
"""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")

application = get_asgi_application()
