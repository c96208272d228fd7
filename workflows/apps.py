from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "workflows"

    def ready(self) -> None:
        from workflows import schema  # noqa: F401  (registers the OpenAPI shapes; it imports chronoverse.schema's)
