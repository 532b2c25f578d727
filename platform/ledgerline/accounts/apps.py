from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ledgerline.accounts"
    label = "accounts"
