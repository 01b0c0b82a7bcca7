"""Check Magine Pro credentials: calls GET /partner/test with the MAGINE_* settings.

    MAGINE_ACCESS_TOKEN=... MAGINE_ISSUER=... MAGINE_PRIVATE_KEY_FILE=jwtRS512.key \
        python examples/check_credentials.py
"""

from __future__ import annotations

import asyncio
import sys

from magine_async import APIError, MagineClient, MagineError


async def main() -> int:
    try:
        async with MagineClient() as client:
            answer = await client.test()
    except APIError as exc:
        print(f"rejected: {exc.status} {exc.error_code or ''}".rstrip(), file=sys.stderr)
        return 1
    except MagineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"OK: {answer}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
