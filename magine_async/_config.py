"""Settings shared by the clients: environment fallbacks, URL checks and logging."""

from __future__ import annotations

import ipaddress
import logging
import os
import sys

from yarl import URL

from ._errors import ConfigurationError

__all__ = ["check_base_url", "configure_logging_from_env", "setting"]

_handler_installed = False


def setting(value: str | None, argument: str, env: str) -> str:
    """``value`` if given, else the environment variable ``env``; ConfigurationError if neither."""
    if value is None:
        value = os.environ.get(env) or None
    if value is None:
        raise ConfigurationError(f"{argument} is required: pass {argument}=... or set {env}")
    if not isinstance(value, str):
        raise ConfigurationError(f"{argument}: must be a string, not {type(value).__name__}")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_insecure_http: bool, argument: str = "base_url") -> str:
    """Validate a base URL: https, or http to a loopback host (or when explicitly allowed)."""
    try:
        url = URL(base_url)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{argument}: not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"{argument}: must be an absolute http(s) URL, got {base_url!r}")
    if url.user or url.password:
        raise ConfigurationError(f"{argument}: must not carry credentials")
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        raise ConfigurationError(
            f"{argument}: plain http:// is refused for non-loopback hosts ({url.host}); "
            "use https:// or pass allow_insecure_http=True"
        )
    return str(url).rstrip("/")


def configure_logging_from_env() -> None:
    """MAGINE_LOG=debug|info adds one stderr handler to the ``magine_async`` logger."""
    global _handler_installed
    level_name = os.environ.get("MAGINE_LOG", "").strip().upper()
    if _handler_installed or level_name not in ("DEBUG", "INFO"):
        return
    logger = logging.getLogger("magine_async")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(getattr(logging, level_name))
    _handler_installed = True
