"""File uploads: the file ids that image and file fields (and ``file_ids``) take."""

from __future__ import annotations

import mimetypes
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from .shape import ClientShape
else:
    ClientShape = object

#: Podio's largest upload (developers.podio.com/doc/files).
MAX_UPLOAD_BYTES = 100 * 1024 * 1024


class FilesAPI(ClientShape):
    def upload_file(self, filename: str, data: bytes | IO[bytes]) -> int:
        """Upload a file; its id, for an image or file field of ``create_item``/``update_item``.

        The file stays temporary until an item uses it. The bytes are held in memory, so the
        upload can be sent again after a refresh or a failure: an upload nothing refers to
        is harmless, so it is retried like a read.
        """
        content = data.read() if hasattr(data, "read") else data
        if not isinstance(content, bytes):
            raise TypeError("upload_file needs bytes or a binary file object")
        if not filename or "/" in filename or "\\" in filename:
            raise ValueError(f"upload_file needs a plain file name, not {filename!r}")
        if len(content) > MAX_UPLOAD_BYTES:
            raise ValueError(f"{filename!r} is larger than Podio's 100 MB upload limit")
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        answer = self.write(
            "POST",
            "/file/",
            files={"source": (filename, content, mimetype)},
            data={"filename": filename},
            safe=True,
        )
        return int(answer["file_id"])


__all__ = ["FilesAPI"]
