from django.apps import AppConfig


class ProvenanceConfig(AppConfig):
    name = "ledgerline.provenance"
    label = "provenance"
