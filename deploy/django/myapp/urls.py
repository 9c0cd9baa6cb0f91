"""/myapp/sync/NAME and /myapp/async/NAME for every endpoint in views.ENDPOINTS."""
from django.urls import path

from . import views

app_name = "myapp"

urlpatterns = []
for _name, _views in views.ENDPOINTS.items():
    for _mode, _view in zip(("sync", "async"), _views):
        if _view is not None:
            urlpatterns.append(path(f"{_mode}/{_name}", _view, name=f"{_mode}_{_name}"))
