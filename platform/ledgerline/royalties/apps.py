from django.apps import AppConfig


class RoyaltiesConfig(AppConfig):
    name = "ledgerline.royalties"
