from django.contrib import admin

from alignment.models import FitRun, TextEmbedding


@admin.register(TextEmbedding)
class TextEmbeddingAdmin(admin.ModelAdmin):
    list_display = ["text_sha256", "model_name", "dim", "created_at"]
    list_filter = ["model_name", "dim"]
    search_fields = ["text_sha256"]
    readonly_fields = ["model_name", "text_sha256", "dim", "created_at"]
    exclude = ["vector"]

    def has_add_permission(self, request) -> bool:
        return False  # rows come from the encoder, never by hand


@admin.register(FitRun)
class FitRunAdmin(admin.ModelAdmin):
    list_display = ["id", "study", "kind", "status", "is_current", "judgment_count", "launched_by", "created_at"]
    list_filter = ["kind", "status", "is_current", "study"]
    search_fields = ["study__slug", "error"]
    readonly_fields = [f.name for f in FitRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # runs are launched through the fit service, which enqueues them
