"""Settings of the benchd reference target, a small Django API under load.

Written for Django 5.2 LTS, installed with the project's other packages from
PyPI (requirements.txt) into the venv benchd makes. Environment variables:

BENCHD_DJANGO_SECRET_KEY
    Django's SECRET_KEY. The default below is public and NOT secret: this
    project signs nothing (no sessions, no auth), but set a real key before
    exposing it anywhere.
BENCHD_DJANGO_DB
    Path of the SQLite database; default db.sqlite3 in this directory.
    A relative path is relative to the server's working directory.
BENCHD_DJANGO_DB_ENGINE
    "sqlite" (the default) or "postgresql" (psycopg 3, the psycopg[binary]
    wheel of requirements.txt).
BENCHD_DJANGO_DB_NAME, BENCHD_DJANGO_DB_USER, BENCHD_DJANGO_DB_PASSWORD,
BENCHD_DJANGO_DB_HOST, BENCHD_DJANGO_DB_PORT
    The PostgreSQL database, when BENCHD_DJANGO_DB_ENGINE=postgresql;
    defaults benchd, postgres, no password, 127.0.0.1 and 5432. A HOST
    starting with "/" is a Unix socket directory.
BENCHD_REDIS_URL
    The Redis server of Django's cache (cache_hit, cache_set); default
    redis://127.0.0.1:6379/0.
BENCHD_UPSTREAM_URL
    What the requests, httpx and aiohttp endpoints fetch; default
    http://127.0.0.1:8090/ (`benchd upstream`, about 24 KiB of JSON).
BENCHD_DJANGO_DELAY_MS
    Extra delay in milliseconds added to every myapp view (time.sleep in
    sync views, asyncio.sleep in async ones), to simulate a regression.
    Default 0 (off). /healthz is never delayed.
BENCHD_DJANGO_BURN_LOOPS
    Rounds of a fixed pure-Python integer loop every myapp view runs before
    it answers (on the event loop in async views, as CPU-bound view code
    does), to inject a real code slowdown rather than a sleep. One round is
    700 to 850 CPU instructions (callgrind, CPython 3.11: docs/regressions.md,
    the instruction lane's burn steps) and 0.09 us on a
    quiet core here (0.4 us with the machine busy);
    the count is exact, so the added instructions are the same every run.
    Default 0 (off). /healthz never burns.
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

def _database():
    engine = os.environ.get("BENCHD_DJANGO_DB_ENGINE", "").strip().lower() or "sqlite"
    if engine in ("sqlite", "sqlite3"):
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCHD_DJANGO_DB") or str(BASE_DIR / "db.sqlite3"),
        }
    if engine in ("postgresql", "postgres"):
        env = os.environ.get
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": env("BENCHD_DJANGO_DB_NAME") or "benchd",
            "USER": env("BENCHD_DJANGO_DB_USER") or "postgres",
            "PASSWORD": env("BENCHD_DJANGO_DB_PASSWORD", ""),
            "HOST": env("BENCHD_DJANGO_DB_HOST") or "127.0.0.1",
            "PORT": env("BENCHD_DJANGO_DB_PORT") or "5432",
        }
    raise ValueError(
        f"BENCHD_DJANGO_DB_ENGINE must be sqlite or postgresql, not {engine!r}"
    )


# SQLite by default; PostgreSQL by BENCHD_DJANGO_DB_ENGINE=postgresql. Either
# way a connection per request (CONN_MAX_AGE 0, Django's default).
DATABASES = {"default": _database()}

# Django's own Redis cache backend (built in since 4.0, on redis-py). Values
# are JSON, not pickles (myapp/cache.py). The socket options go to redis-py's
# connection pool.
BENCHD_REDIS_URL = os.environ.get("BENCHD_REDIS_URL") or "redis://127.0.0.1:6379/0"
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": BENCHD_REDIS_URL,
        "TIMEOUT": 300,
        "OPTIONS": {
            "serializer": "myapp.cache.JSONSerializer",
            "socket_connect_timeout": 5,
            "socket_timeout": 5,
        },
    }
}

# The local upstream the outbound-HTTP endpoints call.
BENCHD_UPSTREAM_URL = os.environ.get("BENCHD_UPSTREAM_URL") or "http://127.0.0.1:8090/"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

def _whole_number(name, unit):
    """Return the environment variable name as an int >= 0 (0 when unset)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number of {unit}, not {raw!r}") from exc
    if value < 0:
        raise ValueError(f"{name} must not be negative, not {value}")
    return value


# Milliseconds added to every myapp view; 0 turns the delay off.
BENCHD_DJANGO_DELAY_MS = _whole_number("BENCHD_DJANGO_DELAY_MS", "milliseconds")

# Rounds of CPU work (myapp.views.burn) added to every myapp view; 0 is off.
BENCHD_DJANGO_BURN_LOOPS = _whole_number("BENCHD_DJANGO_BURN_LOOPS", "loop rounds")

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
