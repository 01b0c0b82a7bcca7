"""Test support: RSA keys, a scripted loopback HTTP server and secret scanning."""

from __future__ import annotations

import asyncio
import functools
import shutil
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ACCESS_TOKEN = "at-7f3c9e51-secret-access-token"
ISSUER = "test-issuer"


@functools.cache
def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def pkcs1_pem(key: rsa.RSAPrivateKey) -> bytes:
    """PEM as ``ssh-keygen -t rsa -m PEM`` writes it (BEGIN RSA PRIVATE KEY)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def pkcs8_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem_via_openssl(private_pem: bytes) -> bytes:
    """The public key as ``openssl rsa -pubout`` derives it (cryptography if openssl is absent)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        key = serialization.load_pem_private_key(private_pem, password=None)
        return key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "jwtRS512.key"
        path.write_bytes(private_pem)
        return subprocess.run(
            [openssl, "rsa", "-in", str(path), "-pubout", "-outform", "PEM"],
            check=True,
            capture_output=True,
        ).stdout


def secret_fragments(private_pem: bytes) -> list[str]:
    """Pieces of a PEM key that must never show up in output (its base64 body lines)."""
    lines = private_pem.decode().strip().splitlines()[1:-1]
    return [line for line in lines if len(line) >= 16]


async def serve_on_loopback(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> tuple[web.AppRunner, str]:
    """Serve every path with ``handler`` on 127.0.0.1 (a free port); the runner and base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/api/v1"


@dataclass
class Seen:
    method: str
    raw_path: str
    query: str
    headers: dict[str, str]
    body: bytes


Reply = (
    tuple[int, bytes | str, dict[str, str]] | Callable[[web.Request], Awaitable[web.StreamResponse]]
)


@dataclass
class ScriptedServer:
    """A loopback HTTP server that answers from a script and records every request."""

    replies: list[Reply] = field(default_factory=list)
    default: Reply = (200, b'"OK"', {"Content-Type": "application/json"})
    seen: list[Seen] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            Seen(
                method=request.method,
                raw_path=request.raw_path.split("?", 1)[0],
                query=request.query_string,
                headers=dict(request.headers),
                body=await request.read(),
            )
        )
        reply = self.replies.pop(0) if self.replies else self.default
        if callable(reply):
            return await reply(request)
        status, body, headers = reply
        data = body.encode() if isinstance(body, str) else body
        return web.Response(status=status, body=data, headers=headers)

    async def start(self) -> None:
        self._runner, self.base_url = await serve_on_loopback(self._handle)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def json_reply(status: int, body: Any, **headers: str) -> Reply:
    import json

    return (status, json.dumps(body).encode(), {"Content-Type": "application/json", **headers})


def error_reply(status: int, code: str, *messages: str, **headers: str) -> Reply:
    return json_reply(status, {"errorCode": code, "messages": list(messages)}, **headers)


class FakeSleep:
    """An injectable sleep that records waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


class EchoServer:
    """A loopback server that answers every request with an error echoing all its headers.

    ``style`` picks how: ``"json"`` (the documented error body, one message per header, 400),
    ``"html"`` (a proxy's 502 page), ``"trace"`` (a 503 whose message carries a trace id and
    the headers) or ``"rotate"`` (the three in turn). ``padding`` puts that many characters
    before the echoed text, to move it across the SDK's excerpt boundary.
    """

    def __init__(self, style: str = "rotate", padding: int = 0) -> None:
        self.style = style
        self.padding = padding
        self.requests = 0
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        import json

        self.requests += 1
        styles = ("json", "html", "trace")
        style = styles[self.requests % 3] if self.style == "rotate" else self.style
        echoed = [f"{name}: {value}" for name, value in request.headers.items()]
        pad = "x" * self.padding
        if style == "json":
            body = json.dumps({"errorCode": "badRequest", "messages": [pad, *echoed]})
            return web.Response(status=400, text=body, content_type="application/json")
        if style == "trace":
            message = f"{pad}Internal error. Trace ID e{self.requests}. " + "; ".join(echoed)
            body = json.dumps({"errorCode": "internalError", "messages": [message]})
            return web.Response(status=503, text=body, content_type="application/json")
        # credentials first, so that the echo lies within the SDK's 200-byte excerpt
        echoed.sort(key=lambda line: not line.startswith(("Authorization", "Magine")))
        page = f"<html><body>{pad}<pre>{'<br>'.join(echoed)}</pre><h1>502 Bad Gateway</h1>"
        return web.Response(status=502, text=page + "</body></html>", content_type="text/html")

    async def start(self) -> None:
        self._runner, self.base_url = await serve_on_loopback(self._handle)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
