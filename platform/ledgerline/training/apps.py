from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "ledgerline.training"
    label = "training"
