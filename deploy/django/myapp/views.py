"""The benchd reference endpoints, each as a plain view and as an async view.

Every endpoint NAME is served at /myapp/sync/NAME by a plain def view and at
/myapp/async/NAME by an async def view (see urls.py, which is built from
ENDPOINTS); aiohttp, an asyncio-only client, has the async view alone. The
async views are written as a Django 5.2 team writes them today: the async
ORM (`[row async for row in queryset]`) and the async cache API
(cache.aget, cache.aset). Under Django 5.2 both still run the sync database
and Redis client on Django's shared thread (asgiref's sync_to_async,
thread_sensitive), one hand-off per call: that cost is part of what the
async scenarios measure. Waits use asyncio.sleep and the Brotli compression
runs on a worker thread (asyncio.to_thread; Brotli's C extension lets go of
the GIL while compressing). The one exception is on purpose: the async
requests view calls the blocking requests library on the event loop, as real
code that reaches for requests does, and stalls every other request of its
worker meanwhile; that is what the seed measured, so it is not "fixed".

Outbound endpoints (requests, httpx, aiohttp) make one GET to
settings.BENCHD_UPSTREAM_URL with a client built for the request, as view
code usually does (a module-level, pooled client would measure connection
reuse instead), and return the upstream's body and content type.

Every view also waits settings.BENCHD_DJANGO_DELAY_MS milliseconds and runs
settings.BENCHD_DJANGO_BURN_LOOPS rounds of burn() first (both off when 0),
to simulate a regression: a slower dependency, or slower code.
"""
import asyncio
import functools
import inspect
import json
import random
import time
import uuid

import aiohttp
import brotli
import httpx
import requests
from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers

from .models import Item

# Rows json_query and template_query read (seed_rows writes 100).
ROW_LIMIT = 20
ROW_FIELDS = ("id", "name", "sku", "description", "price_cents", "quantity")

# Brotli quality used per request. The library default, 11, costs ~95 ms of
# CPU per 100 KiB on this class of machine and would make the endpoint measure
# the compressor alone; 5 (~1.6 ms) is typical of on-the-fly compression.
BROTLI_QUALITY = 5
BROTLI_PAYLOAD_BYTES = 100 * 1024


def _build_brotli_payload(min_bytes):
    """Return a fixed JSON document of at least min_bytes bytes (deterministic)."""
    rng = random.Random(1202)
    words = (
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
        "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
        "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey",
        "xray", "yankee", "zulu",
    )
    records, size = [], 20
    while size < min_bytes:
        record = {
            "id": len(records) + 1,
            "name": " ".join(rng.choice(words) for _ in range(3)),
            "sku": f"{rng.getrandbits(32):08x}",
            "price_cents": rng.randrange(100, 100_000),
            "quantity": rng.randrange(0, 500),
            "tags": rng.sample(words, 3),
        }
        records.append(record)
        size += len(json.dumps(record, separators=(",", ":"))) + 1
    return json.dumps({"items": records}, separators=(",", ":")).encode()


# Built once at import; compressed again on every request.
BROTLI_PAYLOAD = _build_brotli_payload(BROTLI_PAYLOAD_BYTES)


def _delay_seconds():
    return settings.BENCHD_DJANGO_DELAY_MS / 1000


def burn(loops):
    """Spend CPU in pure Python: loops rounds of integer arithmetic.

    Deterministic (no clock, no allocation that grows with loops), so the
    instructions it adds per request are the same in every run: 700 to 850
    per round under CPython 3.11 (callgrind), about 0.09 us on a quiet core
    here (0.4 us with the machine busy).
    """
    x = 0
    for i in range(loops):
        x = (x * 31 + i) & 0xFFFFFFFF
    return x


def sync_view(func):
    """Wrap a plain view so it first sleeps BENCHD_DJANGO_DELAY_MS and burns."""

    @functools.wraps(func)
    def wrapper(request):
        delay = _delay_seconds()
        if delay:
            time.sleep(delay)
        burn(settings.BENCHD_DJANGO_BURN_LOOPS)
        return func(request)

    return wrapper


def async_view(func):
    """Wrap an async view so it first awaits BENCHD_DJANGO_DELAY_MS and burns."""
    if not inspect.iscoroutinefunction(func):
        raise TypeError(f"{func.__name__} must be an async def view")

    @functools.wraps(func)
    async def wrapper(request):
        delay = _delay_seconds()
        if delay:
            await asyncio.sleep(delay)
        burn(settings.BENCHD_DJANGO_BURN_LOOPS)
        return await func(request)

    return wrapper


def _rows_query():
    return Item.objects.order_by("id").values(*ROW_FIELDS)[:ROW_LIMIT]


def _rows():
    return list(_rows_query())


async def _rows_async():
    # Django's async ORM: the query runs on Django's shared sync thread.
    return [row async for row in _rows_query()]


def _compress_response(body):
    response = HttpResponse(body, content_type="application/json")
    response["Content-Encoding"] = "br"
    patch_vary_headers(response, ("Accept-Encoding",))
    return response


def _compress():
    return brotli.compress(BROTLI_PAYLOAD, quality=BROTLI_QUALITY)


async def _compress_async():
    return await asyncio.to_thread(_compress)


def _render_rows(rows, mode):
    return render_to_string("myapp/rows.html", {"rows": rows, "mode": mode})


# json


@sync_view
def sync_json(request):
    return JsonResponse({"message": "Hello, World!", "mode": "sync"})


@async_view
async def async_json(request):
    return JsonResponse({"message": "Hello, World!", "mode": "async"})


# json_query


@sync_view
def sync_json_query(request):
    rows = _rows()
    return JsonResponse({"mode": "sync", "count": len(rows), "items": rows})


@async_view
async def async_json_query(request):
    rows = await _rows_async()
    return JsonResponse({"mode": "async", "count": len(rows), "items": rows})


# template_query


@sync_view
def sync_template_query(request):
    return HttpResponse(_render_rows(_rows(), "sync"))


@async_view
async def async_template_query(request):
    rows = await _rows_async()
    # Rendering a list of dicts touches no database: it is safe on the loop.
    return HttpResponse(_render_rows(rows, "async"))


# gateway_Ns: wait inside the server, as if calling a slow upstream.


def _gateway_body(seconds, mode):
    return {"gateway": f"{seconds}s", "waited_seconds": seconds, "mode": mode}


def _sync_gateway(seconds):
    @sync_view
    def view(request):
        time.sleep(seconds)
        return JsonResponse(_gateway_body(seconds, "sync"))

    view.__name__ = view.__qualname__ = f"sync_gateway_{seconds}s"
    return view


def _async_gateway(seconds):
    async def view(request):
        await asyncio.sleep(seconds)
        return JsonResponse(_gateway_body(seconds, "async"))

    view.__name__ = view.__qualname__ = f"async_gateway_{seconds}s"
    return async_view(view)


# brotli: the payload is the same every time, the compression is redone.


@sync_view
def sync_brotli(request):
    return _compress_response(_compress())


@async_view
async def async_brotli(request):
    return _compress_response(await _compress_async())


# cache_hit and cache_set: Django's cache on Redis.
#
# Django's own Redis backend (django.core.cache.backends.redis.RedisCache):
# cache.get/cache.set in the sync views, cache.aget/cache.aset in the async
# ones, on the same keys. Values are stored as JSON (see CACHES in
# settings.py and myapp/cache.py), readable with redis-cli.

# The key cache_hit reads; it never expires. The first request after Redis
# starts finds it missing and stores it (reported as "hit": false).
CACHE_HIT_KEY = "benchd:cache_hit"
CACHE_HIT_VALUE = {"message": "Hello from the cache", "numbers": list(range(16))}
# cache_set writes a fresh value to one of CACHE_SET_SLOTS keys, picked at
# random, each expiring after CACHE_SET_TIMEOUT seconds: a write per request
# that does not grow Redis without bound under load.
CACHE_SET_SLOTS = 1024
CACHE_SET_TIMEOUT = 300

def _cache_set_entry():
    key = f"benchd:cache_set:{random.randrange(CACHE_SET_SLOTS)}"
    return key, {"value": uuid.uuid4().hex, "set_at": time.time()}


@sync_view
def sync_cache_hit(request):
    value = cache.get(CACHE_HIT_KEY)
    hit = value is not None
    if not hit:
        value = CACHE_HIT_VALUE
        cache.set(CACHE_HIT_KEY, value, timeout=None)
    return JsonResponse({"mode": "sync", "hit": hit, "value": value})


@async_view
async def async_cache_hit(request):
    value = await cache.aget(CACHE_HIT_KEY)
    hit = value is not None
    if not hit:
        value = CACHE_HIT_VALUE
        await cache.aset(CACHE_HIT_KEY, value, timeout=None)
    return JsonResponse({"mode": "async", "hit": hit, "value": value})


@sync_view
def sync_cache_set(request):
    key, value = _cache_set_entry()
    cache.set(key, value, timeout=CACHE_SET_TIMEOUT)
    return JsonResponse({"mode": "sync", "key": key, "value": value})


@async_view
async def async_cache_set(request):
    key, value = _cache_set_entry()
    await cache.aset(key, value, timeout=CACHE_SET_TIMEOUT)
    return JsonResponse({"mode": "async", "key": key, "value": value})


# requests, httpx, aiohttp: one GET to the upstream with that client.

# Seconds an outbound call may take, connect to last byte, before it fails
# (and the view answers 500): longer than any scenario timeout, so a slow
# upstream shows as slow responses rather than as errors.
OUTBOUND_TIMEOUT = 30


def _upstream_response(status, body, content_type):
    if status != 200:
        return JsonResponse({"error": f"upstream answered {status}"}, status=502)
    return HttpResponse(body, content_type=content_type or "application/json")


@sync_view
def sync_requests(request):
    r = requests.get(settings.BENCHD_UPSTREAM_URL, timeout=OUTBOUND_TIMEOUT)
    return _upstream_response(r.status_code, r.content, r.headers.get("Content-Type"))


@async_view
async def async_requests(request):
    # Blocking on purpose: requests has no async API, and this is what an
    # async view that uses it does to its event loop (see the module doc).
    r = requests.get(settings.BENCHD_UPSTREAM_URL, timeout=OUTBOUND_TIMEOUT)
    return _upstream_response(r.status_code, r.content, r.headers.get("Content-Type"))


@sync_view
def sync_httpx(request):
    r = httpx.get(settings.BENCHD_UPSTREAM_URL, timeout=OUTBOUND_TIMEOUT)
    return _upstream_response(r.status_code, r.content, r.headers.get("Content-Type"))


@async_view
async def async_httpx(request):
    async with httpx.AsyncClient(timeout=OUTBOUND_TIMEOUT) as client:
        r = await client.get(settings.BENCHD_UPSTREAM_URL)
    return _upstream_response(r.status_code, r.content, r.headers.get("Content-Type"))


@async_view
async def async_aiohttp(request):
    timeout = aiohttp.ClientTimeout(total=OUTBOUND_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.get(settings.BENCHD_UPSTREAM_URL) as r:
            body = await r.read()
            return _upstream_response(r.status, body, r.headers.get("Content-Type"))


# ENDPOINTS maps each endpoint name to its (sync view, async view); None
# means the endpoint has no view in that mode (404).
ENDPOINTS = {
    "json": (sync_json, async_json),
    "json_query": (sync_json_query, async_json_query),
    "template_query": (sync_template_query, async_template_query),
    "gateway_1s": (_sync_gateway(1), _async_gateway(1)),
    "gateway_3s": (_sync_gateway(3), _async_gateway(3)),
    "gateway_10s": (_sync_gateway(10), _async_gateway(10)),
    "brotli": (sync_brotli, async_brotli),
    "cache_hit": (sync_cache_hit, async_cache_hit),
    "cache_set": (sync_cache_set, async_cache_set),
    "requests": (sync_requests, async_requests),
    "httpx": (sync_httpx, async_httpx),
    # aiohttp is an asyncio library: there is no sync view to write.
    "aiohttp": (None, async_aiohttp),
}
