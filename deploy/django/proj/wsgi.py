"""WSGI entry point of the benchd reference target.

Served by gunicorn with the gevent worker:
    gunicorn -k gevent -w 2 --worker-connections 1000 -b 127.0.0.1:8000 proj.wsgi:application
Only the /myapp/sync/ views are meant to be served this way (Django's async
views run on an asyncio loop per request under WSGI, which gevent does not
expect: they fail once requests overlap).
"""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")

application = get_wsgi_application()
