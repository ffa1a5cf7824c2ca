"""The web server launcher (queueproject/webserver.py): uvicorn with several
processes must keep TCP_NODELAY, or each keep-alive request waits ~40 ms."""

import asyncio
import http.client
import socket

from uvicorn.config import Config

from queueproject.webserver import bind_socket


def accepted_socket_options(sock: socket.socket) -> tuple[int, int]:
    """Serve `sock` as uvicorn's worker processes do (asyncio, given the socket) and
    report the protocol and TCP_NODELAY of the first accepted connection."""
    seen = []

    class Report(asyncio.Protocol):
        def connection_made(self, transport):
            accepted = transport.get_extra_info("socket")
            seen.append((accepted.proto, accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
            transport.close()

    async def serve():
        server = await asyncio.get_running_loop().create_server(Report, sock=sock)
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()

    asyncio.run(serve())
    return seen[0]


def test_the_shared_listening_socket_gives_accepted_connections_tcp_nodelay():
    sock = bind_socket(Config(app="queueproject.asgi:application", host="127.0.0.1", port=0))
    assert (sock.family, sock.type, sock.proto) == (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    assert sock.get_inheritable()  # uvicorn hands it to its worker processes
    assert accepted_socket_options(sock) == (socket.IPPROTO_TCP, 1)


def test_two_web_processes_serve_keep_alive_requests(web_server):  # noqa: F811
    server = web_server(processes=2)
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for _ in range(5):  # one connection, kept alive
        client.request("GET", "/api/health")
        response = client.getresponse()
        assert response.status == 200, response.read()
        assert b'"status"' in response.read()
    client.close()
