"""One raw HTTP/1.1 request over a socket, for bytes an HTTP client will not send (header or
cookie values that are not UTF-8)."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestServer


async def raw_request(server: TestServer, method: str, path: str, headers: list[bytes],
                      body: bytes = b"", from_host: str | None = None) -> tuple[int, bytes]:
    """Send the request as given (each header a raw `Name: value` line) and return the status
    and the response body (the server closes the connection after answering). `from_host`:
    the loopback address to send from (the client address the server sees)."""
    assert server.host is not None and server.port is not None
    reader, writer = await asyncio.open_connection(
        server.host, server.port, local_addr=(from_host, 0) if from_host else None)
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
