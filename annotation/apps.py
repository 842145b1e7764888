from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation"

    def ready(self) -> None:
        from pluralweb.auth import connect_rights_signals

        connect_rights_signals()
