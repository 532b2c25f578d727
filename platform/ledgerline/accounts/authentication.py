"""API token authentication: `Authorization: Bearer ll_...`."""

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from ledgerline.accounts import selectors


class ApiTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in (self.keyword, b"token"):
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        token = selectors.api_token_by_secret(secret=parts[1].decode("ascii", "replace"))
        if token is None:
            raise AuthenticationFailed("This API token is not valid or has been revoked.")
        return token.membership.user, token

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"
