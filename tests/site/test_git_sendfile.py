"""Pieces of a file sent straight to the client under gunicorn (tokens_site.git_http.sendfile):
gunicorn's own request parser and response over a real loopback TCP connection, read back with
http.client. The clone storms through a real gunicorn are in tests/e2e/test_git_caches.py."""

import http.client
import os
import socket
import threading

import pytest
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser
from gunicorn.http.wsgi import create

from tokens_site.git_http.sendfile import START_RESPONSE, file_sender

BODY = os.urandom(300_000)


@pytest.fixture
def entry(tmp_path):
    """A file holding BODY after a 100-byte header, open for reading."""
    path = tmp_path / "entry"
    path.write_bytes(b"h" * 100 + BODY)
    fd = os.open(path, os.O_RDONLY)
    yield fd
    os.close(fd)


def serve(request: bytes, handle, config: Config | None = None) -> http.client.HTTPResponse:
    """One request through gunicorn's parser and response on a loopback connection: `handle`
    (environ, gunicorn's response) answers it. Returns the client's parsed response, read."""
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, address = listener.accept()
    listener.close()
    client.sendall(request)
    config = config or Config()
    got = {}

    def read() -> None:
        response = http.client.HTTPResponse(client)
        response.begin()
        got["response"], got["body"] = response, response.read()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        parsed = next(iter(RequestParser(config, server, address)))
        response, environ = create(parsed, server, address, server.getsockname(), config)
        environ[START_RESPONSE] = response.start_response
        handle(environ, response)
        response.close()
    finally:
        server.close()
        reader.join(timeout=10)
        client.close()
    got["response"].body = got["body"]
    return got["response"]


HTTP_11 = b"POST /g.git/git-upload-pack HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
HTTP_10 = b"POST /g.git/git-upload-pack HTTP/1.0\r\nContent-Length: 0\r\n\r\n"
HEADERS = [("Content-Type", "application/x-git-upload-pack-result")]


def pieces(entry):
    """Answers with BODY in three pieces sent from the file, between two ordinary writes."""

    def handle(environ, response):
        sender = file_sender(environ)
        response.start_response("200 OK", HEADERS)
        assert sender.usable()
        response.write(b"before")
        for start, end in ((0, 1), (1, 70_000), (70_000, len(BODY))):
            sender.send(entry, 100 + start, end - start)
        response.write(b"after")
        assert response.sent == len(BODY) + len("beforeafter")

    return handle


def test_pieces_go_out_in_gunicorns_chunked_framing(entry):
    response = serve(HTTP_11, pieces(entry))
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Content-Type") == HEADERS[0][1]
    assert response.body == b"before" + BODY + b"after"


def test_pieces_go_out_as_they_are_to_an_http_10_client(entry):
    response = serve(HTTP_10, pieces(entry))
    assert response.getheader("Transfer-Encoding") is None
    assert response.body == b"before" + BODY + b"after"


def test_not_usable_with_a_content_length_or_tls(entry):
    def with_length(environ, response):
        response.start_response("200 OK", [*HEADERS, ("Content-Length", "2")])
        assert not file_sender(environ).usable()
        response.write(b"ok")

    assert serve(HTTP_11, with_length).body == b"ok"

    config = Config()
    config.set("certfile", "/nonexistent/cert.pem")  # is_ssl; the socket stays plain here

    def with_tls(environ, response):
        response.start_response("200 OK", HEADERS)
        assert not file_sender(environ).usable()
        response.write(b"ok")

    assert serve(HTTP_11, with_tls, config).body == b"ok"


def test_no_sender_outside_gunicorn():
    assert file_sender({}) is None
    assert file_sender({START_RESPONSE: lambda status, headers: None}) is None
