from django.apps import AppConfig


class AlignmentConfig(AppConfig):
    name = "alignment"
    verbose_name = "Alignment"

    def ready(self) -> None:
        from alignment.broker import task_publish
        from alignment.embedding_store import texts_embed, texts_uncached
        from alignment.pair_selection import candidate_pairs_select, candidate_sets_select
        from annotation.conversation_turns import generation_publisher_register
        from annotation.pairing import pair_selector_register
        from annotation.pairing_jobs import TextEmbedder, text_embedder_register
        from annotation.set_making import set_selector_register

        generation_publisher_register(task_publish)
        pair_selector_register(candidate_pairs_select)
        set_selector_register(candidate_sets_select)
        text_embedder_register(TextEmbedder(uncached=texts_uncached, embed=texts_embed, publish=task_publish))
