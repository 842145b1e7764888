from django.db import models


class TextEmbedding(models.Model):
    """A text's embedding under one model, keyed by the text's sha256: no text is embedded twice."""

    model_name = models.CharField(max_length=200)
    text_sha256 = models.CharField(max_length=64)
    dim = models.PositiveIntegerField()
    vector = models.BinaryField(help_text="float32, little-endian")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model_name", "text_sha256"], name="embedding_unique_text")
        ]

    def __str__(self) -> str:
        return f"{self.model_name}:{self.text_sha256[:12]}"
