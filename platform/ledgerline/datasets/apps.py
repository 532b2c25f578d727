from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "ledgerline.datasets"
    label = "datasets"
