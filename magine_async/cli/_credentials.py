"""``magine-async keygen``, ``token`` and ``test``: the document's "Get Started" steps.

``keygen`` writes the RS512 key pair the Authentication section makes with ``ssh-keygen -t rsa
-b 4096 -m PEM`` and ``openssl rsa -pubout``; ``token`` signs a JWT for a ``curl`` call (only when
asked: it is a secret); ``test`` calls ``/partner/test`` (or ``/reseller/test``) and says whether
the credentials work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import sys
import textwrap
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .._auth import MAX_TOKEN_TTL, TokenProvider
from .._errors import AuthenticationError
from ._common import (
    CONFIG_EXAMPLE,
    CommandError,
    add_client_options,
    client_from_args,
    signing_settings,
)

__all__ = ["register"]

DEFAULT_BITS = 4096
_PUBLIC_SUFFIX = ".pub"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    _register_keygen(sub)
    _register_token(sub)
    _register_test(sub)


# -- keygen --------------------------------------------------------------------------------


def _register_keygen(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "keygen",
        help="generate the RS512 key pair (private key + .pub for Magine Pro)",
        description=textwrap.fill(
            "Generate an RSA key pair as the Authentication section's "
            "'ssh-keygen -t rsa -b 4096 -m PEM -f jwtRS512.key' and 'openssl rsa -pubout' do: "
            "FILE gets the private key (PKCS#1 PEM, '-----BEGIN RSA PRIVATE KEY-----', no "
            "passphrase, created with mode 0600) and FILE.pub the public key (PEM "
            "SubjectPublicKeyInfo). Send only FILE.pub to Magine Pro; keep FILE in a safe place.",
            width=78,
        ),
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("jwtRS512.key"),
        metavar="FILE",
        help="private key file (default jwtRS512.key); the public key goes to FILE.pub",
    )
    parser.add_argument(
        "--bits",
        type=int,
        default=DEFAULT_BITS,
        help=f"key size (default {DEFAULT_BITS}; at least 2048)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace FILE and FILE.pub if they exist"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="show error details")
    parser.set_defaults(handler=run_keygen)


def _create(path: Path, data: bytes, mode: int, *, replace: bool) -> None:
    """Write a new file whose permissions are ``mode`` from its creation on (never wider)."""
    if not replace:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        target = path
    else:  # a fresh file renamed over the old one: the old file's mode is not inherited
        target = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(target, path)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def run_keygen(args: argparse.Namespace) -> int:
    private_path: Path = args.out
    public_path = Path(f"{private_path}{_PUBLIC_SUFFIX}")
    if args.bits < 2048 or args.bits > 16384:
        raise CommandError("--bits: must be from 2048 to 16384 (4096 recommended)", usage=True)
    if not args.force:
        for path in (private_path, public_path):
            if path.exists():
                raise CommandError(f"{path} exists: pass --force to replace it", usage=True)
    print(f"generating a {args.bits}-bit RSA key ...", file=sys.stderr, flush=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=args.bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1, as ssh-keygen -m PEM
        serialization.NoEncryption(),
    )
    public = key.public_key()
    public_pem = public.public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo,  # as openssl rsa -pubout
    )
    try:
        _create(private_path, private_pem, 0o600, replace=args.force)
    except FileExistsError:
        raise CommandError(
            f"{private_path} exists: pass --force to replace it", usage=True
        ) from None
    _create(public_path, public_pem, 0o644, replace=True)
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fingerprint = hashlib.sha256(der).hexdigest()
    print(f"private key: {private_path} (mode 0600): keep it secret, never send it")
    print(f"public key:  {public_path}: send this file to your Magine Pro contact")
    print(f"public key SHA-256: {fingerprint}")
    return 0


# -- token ---------------------------------------------------------------------------------

_TOKEN_EPILOG = """\
example (the document's Get Started test call):
  curl -H "Magine-AccessToken: $MAGINE_ACCESS_TOKEN" \\
       -H "Authorization: Bearer $(magine-async token --print --ttl 300)" \\
       https://platform-api.magine.com/api/v1/partner/test

"""


def _register_token(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "token",
        help="sign a JWT for curl (a secret: printed only with --print)",
        description=textwrap.fill(
            "Sign the RS512 JWT the platform expects in 'Authorization: Bearer ...' "
            "(claims iss, iat backdated 30 s, exp). The SDK never needs this: it signs its "
            "own tokens in memory. A JWT is a secret: whoever holds it can call the API as "
            "you until it expires, so it is written to standard output only with --print, "
            "alone on one line, with a warning on standard error. Prefer a short --ttl.",
            width=78,
        ),
        epilog=_TOKEN_EPILOG + CONFIG_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--print",
        dest="print_token",
        action="store_true",
        help="write the JWT to standard output (required: it is a secret)",
    )
    parser.add_argument(
        "--ttl",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="lifetime (default 3600; at most 30 days)",
    )
    add_client_options(parser, signing_only=True)
    parser.set_defaults(handler=run_token)


async def run_token(args: argparse.Namespace) -> int:
    if not args.print_token:
        raise CommandError(
            "a JWT is a secret credential: pass --print to write one to standard output",
            usage=True,
        )
    if not 0 < args.ttl <= MAX_TOKEN_TTL:
        raise CommandError("--ttl: must be more than 0 and at most 2592000 (30 days)", usage=True)
    issuer, key = signing_settings(args)
    tokens = TokenProvider(issuer=issuer, private_key=key, ttl=args.ttl)
    token = await tokens.get()
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=args.ttl)
    print(
        "warning: this JWT is a secret: whoever holds it can call the API as "
        f"{issuer!r} until {expires:%Y-%m-%d %H:%M:%S}Z. "
        "Keep it out of tickets, chats, logs and shell history.",
        file=sys.stderr,
        flush=True,
    )
    print(token, flush=True)
    return 0


# -- test ----------------------------------------------------------------------------------


def _register_test(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "test",
        help="check the credentials against /partner/test (or /reseller/test)",
        description=textwrap.fill(
            "Call GET /partner/test (--reseller: GET /reseller/test) and say plainly "
            "whether it worked: OK, bad credentials (with the platform's errorCode) or a network "
            "problem. Exit status 0 when OK, 1 otherwise, 2 when a setting is missing or unusable.",
            width=78,
        ),
        epilog=CONFIG_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--reseller", action="store_true", help="the credentials are a reseller's")
    add_client_options(parser)
    parser.set_defaults(handler=run_test)


async def run_test(args: argparse.Namespace) -> int:
    path = "/reseller/test" if args.reseller else "/partner/test"
    async with client_from_args(args) as client:
        try:
            if args.reseller:
                await client.reseller.test()
            else:
                await client.test()
        except AuthenticationError as exc:
            code = exc.error_code or "no errorCode"
            raise CommandError(
                f"bad credentials: GET {path} answered 401 ({code}); check the issuer, the "
                "private key and the access token"
            ) from exc
        print(f"OK: GET {path} accepted the credentials of issuer {client.tokens.issuer!r}")
    return 0
