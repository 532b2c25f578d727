"""What every API view shares: the actor, paginated lists, and a body read as it streams."""

import io
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from django.db.models import Model, QuerySet
from django.http import UnreadablePostError
from django.shortcuts import get_object_or_404
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from ledgerline.accounts.access import Actor, actor_from_request
from ledgerline.api.pagination import Pagination

# A whole number of bytes in a header (Content-Length, Upload-Offset...): at most 19 digits, so it fits.
WHOLE_NUMBER = re.compile(r"\d{1,19}")


class RequestBody:
    """A request's bytes as they arrive, for views that stream a body rather than parse it;
    b"" (or 0) once the client goes away, so a short body is seen for what it is."""

    def __init__(self, request: Request) -> None:
        self.request = request._request
        self._socket = _SocketBody.of(self.request.META)

    def read(self, size: int) -> bytes:
        try:
            return self.request.read(size)
        except UnreadablePostError:
            return b""

    def readinto(self, buffer: memoryview) -> int:
        if self._socket is not None:
            return self._socket.readinto(buffer)
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _SocketBody:
    """A body of known length under gunicorn, read from its socket straight into the caller's
    buffer: gunicorn's own reader hands a body over in 1 MiB pieces copied several times over,
    which costs an upload as much as hashing it. What gunicorn already read ahead comes first, and
    its count of the body's bytes left goes down as they are read, so it reads on from the right
    place (or drains the rest) after the response."""

    def __init__(self, body: Any, socket: Any) -> None:
        self.body, self.reader, self.socket = body, body.reader, socket

    @classmethod
    def of(cls, environ: Mapping[str, Any]) -> "_SocketBody | None":
        try:
            from gunicorn.http.body import Body, LengthReader
        except ImportError:  # not served by gunicorn
            return None
        body, socket = environ.get("wsgi.input"), environ.get("gunicorn.socket")
        if socket is None or not isinstance(body, Body) or not isinstance(body.reader, LengthReader):
            return None
        return cls(body, socket)

    def readinto(self, buffer: memoryview) -> int:
        held = self.body.buf.getvalue()  # taken from the reader already
        if held:
            count = min(len(held), len(buffer))
            buffer[:count] = held[:count]
            self.body.buf = io.BytesIO()
            self.body.buf.write(held[count:])
            return count
        wanted = min(len(buffer), self.reader.length)
        if not wanted:
            return 0
        ahead = self.reader.unreader.take_buffered()  # received, not yet the reader's: may run past the body
        if ahead:
            count = min(len(ahead), wanted)
            buffer[:count] = ahead[:count]
            self.reader.unreader.unread(ahead[count:])
        else:
            try:
                count = self.socket.recv_into(buffer[:wanted])
            except OSError:
                self.body.failed = True  # where the next request starts is unknown now
                return 0
        self.reader.length -= count
        return count


class ApiView(APIView):
    @cached_property
    def actor(self) -> Actor:
        return actor_from_request(self.request)

    def visible(self, queryset: QuerySet[Any], **lookup: Any) -> Any:
        """One object the actor's organisations own, or 404 (never a hint that it exists)."""
        return get_object_or_404(queryset, **lookup)

    def paginated(self, request: Request, queryset: QuerySet[Any], serializer: type[BaseSerializer[Any]]) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(serializer(page, many=True).data)


def body_fields(request: Request) -> Mapping[str, Any]:
    """The request's fields: a JSON object or a form; a JSON list or number is a 400, not a crash."""
    if not isinstance(request.data, Mapping):
        raise ValidationError({"non_field_errors": ["Send the fields as a JSON object or a form."]})
    return request.data


def wallet_field(request: Request) -> Any:
    """The "wallet" of a wallet PUT: required, so an empty body is a 400, not a wallet cleared."""
    fields = body_fields(request)
    if "wallet" not in fields:
        raise ValidationError({"wallet": ['Send {"wallet": an EIP-55 address, or null for none}.']})
    return fields["wallet"]


def created(instance: Model, serializer: type[BaseSerializer[Any]]) -> Response:
    return Response(serializer(instance).data, status=201)
