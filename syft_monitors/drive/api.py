"""A thin, accounted Drive client: every call goes through `google.retry.execute`.

The googleapiclient service object is not thread-safe, so each thread that calls builds its own
from `service_factory` (cheap: the discovery document is bundled, no network).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from syft_monitors.drive.files import FILE_FIELDS, Change, DriveFile
from syft_monitors.errors import CredentialsError, MessageTooLargeError, ServiceError
from syft_monitors.google.retry import DEFAULT_POLICY, RequestObserver, RetryPolicy, execute

ServiceFactory = Callable[[], Any]

CHANGE_FIELDS = f"nextPageToken,newStartPageToken,changes(fileId,removed,file({FILE_FIELDS}))"
LIST_FIELDS = f"nextPageToken,files({FILE_FIELDS})"
FEED_PAGE_SIZE = 1000
LIST_PAGE_SIZE = 1000


class InvalidCursorError(ServiceError):
    """The saved changes page token was refused (400): the feed must be re-baselined."""


class DriveApi:
    def __init__(
        self,
        service_factory: ServiceFactory,
        *,
        observer: RequestObserver | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self._factory = service_factory
        self._local = threading.local()
        self._observer = observer
        self._policy = policy

    @property
    def service(self) -> Any:
        service = getattr(self._local, "service", None)
        if service is None:
            service = self._factory()
            self._local.service = service
            self._local.collections = {}
        return service

    def collection(self, name: str) -> Any:
        """This thread's `service.<name>()` ("files", "changes", "permissions"), built once."""
        # googleapiclient builds every method of a resource object on each `service.files()`
        # call (about a quarter of a request's client CPU): build each collection once per thread.
        service = self.service
        collections: dict[str, Any] = self._local.collections
        if name not in collections:
            collections[name] = getattr(service, name)()
        return collections[name]

    def _call(self, request: Any, method: str) -> Any:
        try:
            return execute(
                request, api="drive", method=method, policy=self._policy, observer=self._observer
            )
        except CredentialsError:
            self.forget_service()
            raise

    def forget_service(self) -> None:
        """Drop this thread's service: the next call builds one, re-reading the token file.

        Called when Google rejects the credentials, so that a re-authorization (a new token
        file, an updated Secret) is picked up without restarting the process.
        """
        self._local.service = None
        self._local.collections = {}

    # --- changes feed ---------------------------------------------------------------------------

    def start_page_token(self) -> str:
        request = self.collection("changes").getStartPageToken()
        return str(self._call(request, "changes.getStartPageToken")["startPageToken"])

    def changes(self, page_token: str) -> tuple[list[Change], str]:
        """All changes since `page_token`, following pages; returns them and the next cursor.

        An idle feed costs exactly one request (the reply carries `newStartPageToken`).
        """
        found: list[Change] = []
        token = page_token
        while True:
            request = self.collection("changes").list(
                pageToken=token,
                pageSize=FEED_PAGE_SIZE,
                includeRemoved=True,
                spaces="drive",
                fields=CHANGE_FIELDS,
            )
            try:
                reply = self._call(request, "changes.list")
            except ServiceError as error:
                if error.status == 400:
                    raise InvalidCursorError(
                        "Drive refused the saved changes cursor", status=400
                    ) from error
                raise
            found.extend(Change.from_api(item) for item in reply.get("changes") or ())
            if reply.get("newStartPageToken"):
                return found, str(reply["newStartPageToken"])
            next_token = reply.get("nextPageToken")
            if not next_token:
                raise ServiceError(
                    "changes.list returned neither nextPageToken nor newStartPageToken"
                )
            token = str(next_token)

    # --- files ----------------------------------------------------------------------------------

    def list_files(self, query: str, *, order_by: str | None = None) -> Iterator[DriveFile]:
        """Every match of `query`, all pages (upstream read only the first page)."""
        page_token: str | None = None
        while True:
            params: dict[str, Any] = {
                "q": query,
                "fields": LIST_FIELDS,
                "pageSize": LIST_PAGE_SIZE,
                "spaces": "drive",
            }
            if order_by:
                params["orderBy"] = order_by
            if page_token:
                params["pageToken"] = page_token
            reply = self._call(self.collection("files").list(**params), "files.list")
            for item in reply.get("files") or ():
                yield DriveFile.from_api(item)
            page_token = reply.get("nextPageToken")
            if not page_token:
                return

    def get(self, file_id: str) -> DriveFile:
        request = self.collection("files").get(fileId=file_id, fields=FILE_FIELDS)
        return DriveFile.from_api(self._call(request, "files.get"))

    def download(self, file_id: str, *, max_bytes: int) -> bytes:
        """Whole content in one request, refusing anything larger than `max_bytes`."""
        request = self.collection("files").get_media(fileId=file_id)
        data = self._call(request, "files.get_media")
        content = data if isinstance(data, bytes) else bytes(data or b"")
        if len(content) > max_bytes:
            raise MessageTooLargeError(
                f"file {file_id} is {len(content)} bytes, over the {max_bytes}-byte limit"
            )
        return content
