"""Pieces of a file sent to the client straight from the page cache (sendfile) while a response
streams, under gunicorn.

A pack being written into the Git cache (caches.py) goes to every client that asks for it
meanwhile, as it grows. Through WSGI each piece would be read into Python and then copied again
by gunicorn for HTTP/1.1's chunked encoding: a clone storm's followers spent most of their time
copying. A finished file costs none of that (gunicorn sends it whole with sendfile, through
`wsgi.file_wrapper`), but WSGI has no way to send part of a file in the middle of a streaming
response. So under gunicorn a follower does, one piece at a time, what gunicorn's own sendfile
does for a whole file: gunicorn's response object (kept in the environ by tokens_site.wsgi, as
the `start_response` it handed the application) sends the headers and says how the body is
framed, and the piece goes out with `socket.sendfile` between its chunk size and its end.
Anywhere else (another server, TLS, a Content-Length, the test client) there is no sender, and
the caller reads the pieces and yields them as usual.

Our own because no maintained library does this for WSGI; it relies on gunicorn's Response
(`send_headers`, `chunked`, `sock`, `sent`), as gunicorn's sendfile has since 19.x.
"""

import io
import socket
from collections.abc import Callable

from gunicorn.http.wsgi import Response

# The environ key tokens_site.wsgi keeps the server's start_response under.
START_RESPONSE = "tokens_site.start_response"


class FileSender:
    """Sends pieces of open files as the next bytes of this request's response body."""

    def __init__(self, server: Response):
        self.server = server

    def usable(self) -> bool:
        """Whether pieces can go out this way (asked once the response has started: gunicorn
        decides the framing in start_response)."""
        server = self.server
        return (
            not server.cfg.is_ssl
            and server.can_sendfile()
            and server.response_length is None
            and not getattr(server, "_omits_body", False)
            and isinstance(server.sock, socket.socket)
        )

    def send(self, fd: int, offset: int, count: int) -> None:
        """Bytes [offset, offset + count) of the file open as `fd`, which must hold them.
        Raises OSError if the client is gone (as gunicorn's own writes do)."""
        server = self.server
        server.send_headers()
        if server.chunked:
            server.sock.sendall(b"%X\r\n" % count, socket.MSG_MORE)
        with io.FileIO(fd, "rb", closefd=False) as file:
            sent = server.sock.sendfile(file, offset, count)
        if sent != count:  # the file was shorter than promised: the framing is broken
            raise OSError(f"sendfile sent {sent} of {count} bytes")
        if server.chunked:
            server.sock.sendall(b"\r\n")
        server.sent += count


def file_sender(environ: dict) -> FileSender | None:
    """The sender for this request, or None where the server is not gunicorn."""
    start_response: Callable | None = environ.get(START_RESPONSE)
    server = getattr(start_response, "__self__", None)
    return FileSender(server) if isinstance(server, Response) else None
