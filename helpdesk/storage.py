"""Storage for files no web server may serve: the attachments' default (settings.STORAGES)."""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage


class PrivateFileSystemStorage(FileSystemStorage):
    """A file system storage with no URL: its files are served only through the signed links
    of tickets.views.attachment_download, never by a web server from MEDIA_URL."""

    def url(self, name: str | None) -> str:
        raise ValueError("Attachments have no public URL: link to them with a signed link.")
