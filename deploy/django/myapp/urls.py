"""/myapp/sync/NAME and /myapp/async/NAME for every endpoint in views.ENDPOINTS."""
from django.urls import path

from . import views

app_name = "myapp"

urlpatterns = []
for _name, (_sync, _async) in views.ENDPOINTS.items():
    urlpatterns += [
        path(f"sync/{_name}", _sync, name=f"sync_{_name}"),
        path(f"async/{_name}", _async, name=f"async_{_name}"),
    ]
