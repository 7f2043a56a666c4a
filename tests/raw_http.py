"""One raw HTTP/1.1 request over a socket, for bytes an HTTP client will not send (header or
cookie values that are not UTF-8)."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestServer


async def raw_request(server: TestServer, method: str, path: str, headers: list[bytes],
                      body: bytes = b"") -> tuple[int, bytes]:
    """Send the request as given (each header a raw `Name: value` line) and return the status
    and the response body (the server closes the connection after answering)."""
    assert server.host is not None and server.port is not None
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        head = [f"{method} {path} HTTP/1.1".encode(), f"Host: {server.host}".encode(),
                f"Content-Length: {len(body)}".encode(), b"Connection: close", *headers]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    status_line, _, rest = raw.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), payload
