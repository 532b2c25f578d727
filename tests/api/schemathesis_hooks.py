"""Schemathesis hooks (SCHEMATHESIS_HOOKS): bodies for the media types it cannot draw itself."""

import schemathesis
from hypothesis import strategies as st

# A tus PATCH or creation-with-upload carries the file's bytes as they are.
schemathesis.openapi.media_type("application/offset+octet-stream", st.binary(max_size=256))
