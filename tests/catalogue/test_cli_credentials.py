"""``magine-async keygen``, ``token`` and ``test``, and where settings come from."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from magine_async import load_private_key
from magine_async.sandbox import Sandbox

from ..support import pkcs1_pem, public_pem_via_openssl, rsa_key, secret_fragments
from .conftest import LiveSandbox, Run


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- keygen --------------------------------------------------------------------------------


def test_keygen_writes_the_pair_the_documents_commands_produce(
    cli: Callable[..., Run], tmp_path: Path
) -> None:
    key_file = tmp_path / "jwtRS512.key"
    run = cli("keygen", "--out", key_file)
    assert run.code == 0, run.err
    private_pem = key_file.read_bytes()
    assert private_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----\n")  # PKCS#1
    assert mode(key_file) == 0o600
    key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 4096
    public_file = tmp_path / "jwtRS512.key.pub"
    assert public_file.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert public_file.read_bytes() == public_pem_via_openssl(private_pem)
    load_private_key(key_file)  # the SDK takes it as it is
    for fragment in secret_fragments(private_pem):
        assert fragment not in run.out + run.err
    assert "jwtRS512.key.pub" in run.out and "keep it secret" in run.out


def test_keygen_creates_the_private_key_0600_whatever_the_umask(
    cli: Callable[..., Run], tmp_path: Path
) -> None:
    previous = os.umask(0)
    try:
        assert cli("keygen", "--out", tmp_path / "k.key", "--bits", "2048").code == 0
    finally:
        os.umask(previous)
    assert mode(tmp_path / "k.key") == 0o600
    assert mode(tmp_path / "k.key.pub") == 0o644


def test_keygen_never_overwrites_without_force(cli: Callable[..., Run], tmp_path: Path) -> None:
    key_file = tmp_path / "k.key"
    key_file.write_text("precious")
    key_file.chmod(0o644)
    refused = cli("keygen", "--out", key_file, "--bits", "2048")
    assert refused.code == 2
    assert refused.err.strip() == f"error: {key_file} exists: pass --force to replace it"
    assert key_file.read_text() == "precious"
    assert not (tmp_path / "k.key.pub").exists()

    (tmp_path / "other.key.pub").write_text("public")
    refused = cli("keygen", "--out", tmp_path / "other.key", "--bits", "2048")
    assert refused.code == 2 and "other.key.pub exists" in refused.err
    assert not (tmp_path / "other.key").exists()

    forced = cli("keygen", "--out", key_file, "--bits", "2048", "--force")
    assert forced.code == 0
    assert key_file.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert mode(key_file) == 0o600  # a new file, not the old one's 0644
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "k.key",
        "k.key.pub",
        "other.key.pub",
    ]


def test_keygen_refuses_a_short_key(cli: Callable[..., Run], tmp_path: Path) -> None:
    run = cli("keygen", "--out", tmp_path / "k.key", "--bits", "1024")
    assert run.code == 2 and "--bits: must be from 2048" in run.err
    assert not (tmp_path / "k.key").exists()


# -- token ---------------------------------------------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "partner.key"
    path.parent.mkdir()
    path.write_bytes(pkcs1_pem(rsa_key()))
    return path


def claims(token: str) -> dict[str, object]:
    public = rsa_key().public_key()
    decoded: dict[str, object] = pyjwt.decode(
        token, public, algorithms=["RS512"], options={"verify_iat": False}
    )
    return decoded


def test_token_is_printed_only_when_asked(
    cli: Callable[..., Run], key_file: Path, no_magine_env: None
) -> None:
    run = cli("token", "--issuer", "me", "--private-key-file", key_file)
    assert run.code == 2
    assert run.out == ""
    assert "a JWT is a secret credential: pass --print" in run.err


def test_token_print_writes_the_jwt_alone_and_warns_on_stderr(
    cli: Callable[..., Run], key_file: Path, no_magine_env: None
) -> None:
    run = cli(
        "token",
        "--print",
        "--issuer",
        "me",
        "--private-key-file",
        key_file,
        "--ttl",
        "600",
        secret_output=True,
    )
    assert run.code == 0
    token = run.out.strip()
    assert run.out == token + "\n" and token.count(".") == 2
    assert token not in run.err
    assert run.err.startswith("warning: this JWT is a secret")
    decoded = claims(token)
    assert decoded["iss"] == "me"
    assert decoded["exp"] - decoded["iat"] == 630  # type: ignore[operator]  # ttl + 30 s skew
    for fragment in secret_fragments(key_file.read_bytes()):
        assert fragment not in run.out + run.err


@pytest.mark.parametrize("ttl", ["0", "2592001", "-5"])
def test_token_ttl_is_bounded(
    cli: Callable[..., Run], key_file: Path, ttl: str, no_magine_env: None
) -> None:
    run = cli("token", "--print", "--issuer", "me", "--private-key-file", key_file, "--ttl", ttl)
    assert run.code == 2 and run.out == "" and "--ttl" in run.err


def test_settings_come_from_flags_then_environment_then_config_file(
    cli: Callable[..., Run],
    key_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_magine_env: None,
) -> None:
    config = key_file.parent / "magine.toml"
    config.write_text('issuer = "from-file"\nprivate_key_file = "partner.key"\n')

    def issuer_of(*argv: str | Path) -> object:
        run = cli("token", "--print", *argv, secret_output=True)
        assert run.code == 0, run.err
        return claims(run.out.strip())["iss"]

    assert issuer_of("--config", config) == "from-file"  # relative key path: next to the file
    monkeypatch.setenv("MAGINE_CONFIG", str(config))
    assert issuer_of() == "from-file"
    monkeypatch.setenv("MAGINE_ISSUER", "from-env")
    assert issuer_of() == "from-env"
    assert issuer_of("--issuer", "from-flag") == "from-flag"


def test_a_bad_config_file_is_one_line(
    cli: Callable[..., Run], tmp_path: Path, no_magine_env: None
) -> None:
    config = tmp_path / "magine.toml"
    config.write_text('isuer = "typo"\n')
    run = cli("token", "--print", "--config", config)
    assert run.code == 2
    assert run.err.strip() == (
        f"error: config file {config}: unknown key 'isuer' (known: base_url, issuer, "
        "private_key_file, access_token_file, access_token, max_attempts)"
    )
    config.write_text("issuer = [")
    run = cli("token", "--print", "--config", config)
    assert run.code == 2 and "not valid TOML" in run.err
    config.write_text("max_attempts = 'three'\n")
    run = cli("test", "--config", config)
    assert run.code == 2 and "max_attempts must be an integer" in run.err


# -- test ----------------------------------------------------------------------------------


def sandbox_config(
    sb: Sandbox, directory: Path, *, reseller: bool = False, token_inline: bool = False
) -> Path:
    """A config file with the sandbox's settings (the key and token in files beside it)."""
    (directory / "the.key").write_text(
        sb.reseller_private_key_pem if reseller else sb.private_key_pem
    )
    (directory / "token.txt").write_text(sb.access_token + "\n")
    token = (
        f'access_token = "{sb.access_token}"' if token_inline else 'access_token_file = "token.txt"'
    )
    config = directory / "magine.toml"
    config.write_text(
        f'base_url = "{sb.base_url}"\n'
        f'issuer = "{sb.reseller_issuer if reseller else sb.issuer}"\n'
        f'private_key_file = "the.key"\n{token}\n'
    )
    return config


def test_test_says_ok(sandbox_env: LiveSandbox, cli: Callable[..., Run]) -> None:
    run = cli("test")
    assert run.code == 0, run.err
    assert run.out.strip() == (
        f"OK: GET /partner/test accepted the credentials of issuer {sandbox_env.sb.issuer!r}"
    )


def test_test_reseller_with_a_config_file(
    live_sandbox: LiveSandbox,
    cli: Callable[..., Run],
    tmp_path: Path,
    no_magine_env: None,
) -> None:
    config = sandbox_config(live_sandbox.sb, tmp_path, reseller=True)
    run = cli("test", "--reseller", "--config", config)
    assert run.code == 0, run.err
    assert run.out.startswith("OK: GET /reseller/test accepted")


def test_test_says_bad_credentials_with_the_error_code(
    sandbox_env: LiveSandbox,
    cli: Callable[..., Run],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MAGINE_PRIVATE_KEY")
    stranger = tmp_path / "stranger.key"
    stranger.write_bytes(pkcs1_pem(rsa_key()))  # a key the platform does not know
    run = cli("test", "--private-key-file", stranger)
    assert run.code == 1
    assert run.err.strip().splitlines() == [
        "error: bad credentials: GET /partner/test answered 401 (unauthorized); check the "
        "issuer, the private key and the access token"
    ]


def test_test_says_network_problem(sandbox_env: LiveSandbox, cli: Callable[..., Run]) -> None:
    run = cli("test", "--base-url", "http://127.0.0.1:9/api/v1", "--max-attempts", "1")
    assert run.code == 1
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: network problem: ")


def test_an_access_token_in_a_readable_config_file_is_warned_about(
    live_sandbox: LiveSandbox,
    cli: Callable[..., Run],
    tmp_path: Path,
    no_magine_env: None,
) -> None:
    config = sandbox_config(live_sandbox.sb, tmp_path, token_inline=True)
    config.chmod(0o644)
    run = cli("test", "--config", config)
    assert run.code == 0
    assert f"warning: {config} holds access_token and other users may read it" in run.err
    config.chmod(0o600)
    run = cli("test", "--config", config)
    assert run.code == 0 and run.err == ""


def test_help_lists_the_credential_commands(cli: Callable[..., Run]) -> None:
    run = cli("--help")
    for name in ("catalogue", "keygen", "token", "test", "sandbox"):
        assert name in run.out
    token_help = cli("token", "--help").out
    assert "--print" in token_help and "--ttl" in token_help and "secret" in token_help
    assert "--base-url" not in token_help  # signing needs no connection
    assert "--reseller" in cli("test", "--help").out
    assert "--force" in cli("keygen", "--help").out
