"""An HTTPS proxy that plays www.googleapis.com for a client that cannot be pointed elsewhere.

Upstream's client builds its Drive service with a fixed root (`https://www.googleapis.com/`) and
has no setting for another one. httplib2 honours the standard proxy variables (`HTTPS_PROXY`,
`NO_PROXY`) and `HTTPLIB2_CA_CERTS`, so a real process can reach the sandbox unmodified: it sends
`CONNECT www.googleapis.com:443` here, this proxy terminates TLS with a certificate made for the
test (trusted through `HTTPLIB2_CA_CERTS`) and relays the plain HTTP/1.1 stream to the sandbox.
Nothing in the client is patched; every byte is the real wire protocol.
"""

from __future__ import annotations

import contextlib
import datetime
import socket
import socketserver
import ssl
import threading
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

GOOGLE_HOSTS = ("www.googleapis.com", "oauth2.googleapis.com", "gmail.googleapis.com")


def write_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the Google API hosts: (certificate, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, GOOGLE_HOSTS[0])])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(host) for host in GOOGLE_HOSTS]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "google-test-ca.pem", folder / "google-test-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, target: tuple[str, int], context: ssl.SSLContext) -> None:
        self.target = target
        self.context = context
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        request_line = self.rfile.readline(65536).decode("latin-1")
        while self.rfile.readline(65536).strip():
            pass
        method, _, rest = request_line.partition(" ")
        host = rest.split(" ", 1)[0].rsplit(":", 1)[0]
        if method != "CONNECT" or host not in GOOGLE_HOSTS:
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        try:
            client = self.server.context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            return
        upstream = socket.create_connection(self.server.target)
        pump = threading.Thread(target=_copy, args=(upstream, client), daemon=True)
        pump.start()
        _copy(client, upstream)
        pump.join(timeout=5)
        for end in (upstream, client):
            with contextlib.suppress(OSError):
                end.close()


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class GoogleTlsProxy:
    """`with GoogleTlsProxy(sandbox_port, folder) as proxy: env.update(proxy.environment())`."""

    def __init__(self, sandbox_port: int, folder: Path) -> None:
        self.certificate, key = write_certificate(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate, key)
        self._server = _Server(("127.0.0.1", sandbox_port), context)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def environment(self) -> dict[str, str]:
        """What a process needs to reach the sandbox as Google (the token URI stays direct)."""
        return {
            "HTTPS_PROXY": self.url,
            "https_proxy": self.url,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "HTTPLIB2_CA_CERTS": str(self.certificate),
        }

    def __enter__(self) -> GoogleTlsProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
