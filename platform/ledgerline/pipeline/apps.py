from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "ledgerline.pipeline"
    label = "pipeline"
