"""Settings of the benchd reference target, a small Django API under load.

Written for Debian 12's python3-django 3.2 in idioms current Django also
accepts. Environment variables:

BENCHD_DJANGO_SECRET_KEY
    Django's SECRET_KEY. The default below is public and NOT secret: this
    project signs nothing (no sessions, no auth), but set a real key before
    exposing it anywhere.
BENCHD_DJANGO_DB
    Path of the SQLite database; default db.sqlite3 in this directory.
    A relative path is relative to the server's working directory.
BENCHD_DJANGO_DELAY_MS
    Extra delay in milliseconds added to every myapp view (time.sleep in
    sync views, asyncio.sleep in async ones), to simulate a regression.
    Default 0 (off). /healthz is never delayed.
BENCHD_DJANGO_ALLOWED_HOSTS
    Comma-separated host names accepted besides the loopback ones.
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Not a secret: a fixed, published development key (see the module docstring).
SECRET_KEY = os.environ.get(
    "BENCHD_DJANGO_SECRET_KEY",
    "benchd-reference-target-NOT-A-SECRET-do-not-use-in-production",
)

DEBUG = False

ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"] + [
    host.strip()
    for host in os.environ.get("BENCHD_DJANGO_ALLOWED_HOSTS", "").split(",")
    if host.strip()
]

# Only what the endpoints need: no admin, auth, sessions or messages, and so no
# per-request middleware for them. Both middlewares below are async-capable,
# so async views are not pushed onto a thread under ASGI.
INSTALLED_APPS = [
    "myapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "proj.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    },
]

WSGI_APPLICATION = "proj.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCHD_DJANGO_DB") or str(BASE_DIR / "db.sqlite3"),
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

def _delay_ms():
    raw = os.environ.get("BENCHD_DJANGO_DELAY_MS", "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(
            f"BENCHD_DJANGO_DELAY_MS must be a whole number of milliseconds, not {raw!r}"
        ) from exc
    if value < 0:
        raise ValueError(f"BENCHD_DJANGO_DELAY_MS must not be negative, not {value}")
    return value


# Milliseconds added to every myapp view; 0 turns the delay off.
BENCHD_DJANGO_DELAY_MS = _delay_ms()

# DEBUG is off, so without this Django would swallow 500 tracebacks.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "plain",
            "level": "WARNING",
        },
    },
    # Only Django's and the app's loggers: the root logger is left to the
    # server (gunicorn, uvicorn and hypercorn log through their own handlers,
    # and would print every line twice if root had one too).
    "loggers": {
        "django": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "myapp": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}
