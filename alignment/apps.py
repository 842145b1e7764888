from django.apps import AppConfig


class AlignmentConfig(AppConfig):
    name = "alignment"
    verbose_name = "Alignment"

    def ready(self) -> None:
        from alignment.pair_selection import candidate_pairs_select
        from annotation.pairing import pair_selector_register

        pair_selector_register(candidate_pairs_select)
