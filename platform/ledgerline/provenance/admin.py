from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ledgerline.provenance.models import AuditEntry, SigningKey


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin[SigningKey]):
    list_display = ["key_id", "organisation", "created_at", "retired_at"]
    readonly_fields = ["key_id", "algorithm", "public_key_pem", "organisation", "retired_at"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin[AuditEntry]):
    list_display = ["seq", "created_at", "organisation", "actor", "action", "object_type"]
    list_filter = ["action"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
