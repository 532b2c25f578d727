from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "ledgerline.portal"
    label = "portal"
