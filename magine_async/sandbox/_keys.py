"""RSA key pairs for the sandbox's partner and reseller (generated once per process)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

_CACHE: dict[str, KeyPair] = {}


@dataclass(frozen=True)
class KeyPair:
    """A PEM key pair. The private half never appears in a repr."""

    private_pem: str = field(repr=False)
    public_pem: str

    @classmethod
    def generate(cls, bits: int = 2048) -> KeyPair:
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        return cls._from_key(key)

    @classmethod
    def from_private_pem(cls, pem: str | bytes) -> KeyPair:
        data = pem.encode() if isinstance(pem, str) else pem
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the sandbox needs an RSA private key (RS512)")
        return cls._from_key(key)

    @classmethod
    def _from_key(cls, key: rsa.RSAPrivateKey) -> KeyPair:
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,  # as `ssh-keygen -m PEM`
            serialization.NoEncryption(),
        ).decode()
        public = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo,  # as `openssl rsa -pubout`
            )
            .decode()
        )
        return cls(private, public)

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Write ``<stem>.key`` (mode 0600) and ``<stem>.key.pub``; returns both paths."""
        directory.mkdir(parents=True, exist_ok=True)
        private_path = directory / f"{stem}.key"
        public_path = directory / f"{stem}.key.pub"
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.private_pem)
        os.chmod(private_path, 0o600)
        public_path.write_text(self.public_pem)
        return private_path, public_path


def cached_key_pair(name: str) -> KeyPair:
    """The process-wide key pair called ``name`` (generated on first use)."""
    pair = _CACHE.get(name)
    if pair is None:
        pair = _CACHE[name] = KeyPair.generate()
    return pair
