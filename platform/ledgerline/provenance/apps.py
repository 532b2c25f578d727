from django.apps import AppConfig


class ProvenanceConfig(AppConfig):
    name = "ledgerline.provenance"
    label = "provenance"

    def ready(self) -> None:
        from ledgerline.provenance import checks  # noqa: F401  (registers the checks)
