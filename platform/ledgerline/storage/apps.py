from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "ledgerline.storage"
    label = "storage"
