"""The sandbox over real HTTP/1.1 (keep-alive), one thread per connection."""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from syft_sandbox.app import SandboxApp
from syft_sandbox.core import Sandbox
from syft_sandbox.wire import Response

logger = logging.getLogger(__name__)

_MAX_BODY = 512 * 1024 * 1024


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._resets: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def mark_reset(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._resets.add(connection)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            reset = request in self._resets
            self._resets.discard(request)
        if reset:
            # No shutdown(SHUT_WR) first: a FIN before the RST reads as a clean "server closed
            # the connection", which httplib2 silently retries (re-sending upload chunks empty).
            self.close_request(request)
            return
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or hang up mid-answer are expected (fault tests do it on purpose).
        logger.debug(
            "sandbox connection from %s ended with an error", client_address, exc_info=True
        )

    def close_connections(self) -> None:
        """Wake handler threads parked on idle keep-alive connections so they exit."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without TCP_NODELAY, Nagle plus the client's
    # delayed ACK adds ~40 ms to every answer.
    disable_nagle_algorithm = True
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox %s - " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        # Reached as Google itself (through a TLS-terminating proxy, as upstream's client must be):
        # links the answers carry, like resumable-upload URLs, keep Google's https scheme.
        scheme = "https" if host.rsplit(":", 1)[0].endswith(".googleapis.com") else "http"
        outcome = self.server.app.handle(
            self.command, self.path, headers, body, f"{scheme}://{host}/"
        )
        if outcome.response is None:
            self._reset()
            return
        self._send(outcome.response, truncate=outcome.truncate)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_text = self.headers.get("Content-Length") or "0"
        if not length_text.isdigit() or int(length_text) > _MAX_BODY:
            self.send_error(400, "bad Content-Length")
            return None
        return self.rfile.read(int(length_text))

    def _read_chunked(self) -> bytes:
        chunks = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():
                    pass
                return bytes(chunks)
            chunks += self.rfile.read(size)
            self.rfile.readline()

    def _send(self, response: Response, *, truncate: bool) -> None:
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if truncate:
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
            self._reset()
            return
        self.wfile.write(response.body)

    def _reset(self) -> None:
        # SO_LINGER 0 makes close() send RST, which clients see as "connection reset by peer".
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.server.mark_reset(self.connection)
        self.close_connection = True


class SandboxServer:
    """Serves a `Sandbox` on 127.0.0.1; `url` is the API root to give the Google clients."""

    def __init__(self, sandbox: Sandbox, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self._host = host
        self._port = port
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        self._httpd = _HttpServer((self._host, self._port), SandboxApp(self.sandbox))
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-http-{self._port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("sandbox serving on %s", self.url)
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}/"

    @property
    def token_uri(self) -> str:
        return self.url + "token"

    def write_client_secrets(self, path: Path) -> Path:
        """A Desktop-app `credentials.json` whose sign-in and token endpoints are this server."""
        from syft_sandbox.oauth import AUTHORIZE_PATH  # noqa: PLC0415
        from syft_sandbox.tokenfiles import (  # noqa: PLC0415
            CLIENT_ID,
            CLIENT_SECRET,
            write_token_file,
        )

        installed = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "project_id": "syft-monitor-sandbox",
            "auth_uri": self.url.rstrip("/") + AUTHORIZE_PATH,
            "token_uri": self.token_uri,
            "redirect_uris": ["http://localhost"],
        }
        return write_token_file(path, {"installed": installed})

    def write_token_files(self, folder: Path) -> dict[str, Path]:
        """One authorized-user JSON file per user (`<email>.json`), refreshing against `/token`."""
        return {
            user: self.sandbox.write_token_file(
                user, folder / f"{user}.json", token_uri=self.token_uri
            )
            for user in self.sandbox.users()
        }

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
