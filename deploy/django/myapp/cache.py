"""JSONSerializer: the serializer of the project's Redis cache (settings.CACHES).

Django's RedisCache pickles values by default; JSON keeps what the views
store (dicts, lists, strings and numbers) readable with redis-cli and by
other clients, and cannot run code on load.
"""
import json


class JSONSerializer:
    """Serialize cache values to and from UTF-8 JSON bytes."""

    def dumps(self, obj):
        return json.dumps(obj, separators=(",", ":")).encode()

    def loads(self, data):
        return json.loads(data)
