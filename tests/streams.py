"""Request bodies made as they are read, for pushing large uploads through Django's whole
request stack without holding them in memory (used by tests and bench/)."""

from collections.abc import Iterable, Iterator


class StreamedBody:
    """A WSGI input stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks, self.buffer = iter(chunks), b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        size = len(self.buffer) if size < 0 else size
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def readline(self, size: int = -1) -> bytes:  # part of the WSGI input interface; Django does not use it here
        raise NotImplementedError


def multipart_file(boundary: str, filename: str, content: Iterable[bytes], size: int) -> tuple[Iterator[bytes], int]:
    """The chunks of a multipart body holding one file part called "file", and its length."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        yield from content
        yield tail

    return chunks(), len(head) + size + len(tail)


def upload_environ(*, path: str, body: Iterator[bytes], length: int, boundary: str, token: str) -> dict[str, object]:
    """A WSGI environ for a token-authenticated multipart POST."""
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": StreamedBody(body),
        "CONTENT_LENGTH": str(length),
        "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
    }
