"""URL configuration: /healthz and the myapp endpoints under /myapp/."""
from django.http import HttpResponse
from django.urls import include, path


def healthz(request):
    """Readiness probe: 200 "ok", no database access, no artificial delay."""
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("myapp/", include("myapp.urls")),
]
