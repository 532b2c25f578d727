from django.apps import AppConfig


class WorksConfig(AppConfig):
    name = "ledgerline.works"
    label = "works"
