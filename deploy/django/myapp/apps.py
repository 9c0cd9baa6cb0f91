from django.apps import AppConfig


class MyappConfig(AppConfig):
    """The benchd reference endpoints."""

    name = "myapp"
    default_auto_field = "django.db.models.BigAutoField"
