"""What the production guards of auth and the database cost, printed as one JSON line.

(a) a transaction through PgBouncer with the per-transaction timeouts against with them set on
the role; (b) the same direct (timeouts at login); (c) verifying an RS256 token whose key is
in the cached JWKS (found on the loop) against through a thread as every verify did before.

    python bench/auth_db.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.auth.tokens import TokenVerifier
from app.config import Settings
from app.db.embedded import create_database_if_missing, drop_database
from app.db.engine import create_engine
from tests.fixtures.pgbouncer import running_pgbouncer
from tests.fixtures.servers import jwks_server

TRANSACTIONS = 2000
VERIFIES = 2000


async def _per_transaction_ms(url: str, **settings: Any) -> float:
    engine = create_engine(url, Settings(jwt_secret="x" * 40, **settings))
    try:
        for _ in range(100):  # warm the pool
            async with engine.begin() as connection:
                await connection.execute(text("SELECT 1"))
        started = time.perf_counter()
        for _ in range(TRANSACTIONS):
            async with engine.begin() as connection:
                await connection.execute(text("SELECT 1"))
        return (time.perf_counter() - started) * 1000 / TRANSACTIONS
    finally:
        await engine.dispose()


async def _verify_us(url: str, via_thread: bool) -> float:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with jwks_server() as server:
        server.serve(("k1", key.public_key()))
        settings = Settings(
            jwt_jwks_url=server.url, jwt_issuer="https://idp", jwt_audience="convene"
        )
        verifier = TokenVerifier(settings)
        now = datetime.now(UTC)
        claims = {"sub": str(uuid.uuid4()), "tid": str(uuid.uuid4()), "iss": "https://idp"}
        claims |= {"aud": "convene", "iat": now, "exp": now + timedelta(hours=1)}
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
        await verifier.verify(token)
        jwks = verifier._jwks
        assert jwks is not None
        samples = []
        for _ in range(VERIFIES):
            started = time.perf_counter()
            if via_thread:  # what every verify did before: the lookup in a thread
                found = await asyncio.to_thread(jwks.get_signing_key_from_jwt, token)
                jwt.decode(token, found.key, algorithms=["RS256"], audience="convene")
            else:
                await verifier.verify(token)
            samples.append((time.perf_counter() - started) * 1e6)
        return statistics.median(samples)


async def main(server_url: str) -> None:
    name = f"convene_bench_{uuid.uuid4().hex[:10]}"
    url = await create_database_if_missing(server_url, name)
    try:
        direct = await _per_transaction_ms(url)
        with running_pgbouncer(server_url) as bouncer:
            routed = bouncer.routed(url)
            bounced = {"database_pgbouncer": True, "database_direct_url": url}
            per_tx = await _per_transaction_ms(routed, **bounced)
            from_role = await _per_transaction_ms(
                routed, **bounced, database_timeouts_from_role=True
            )
        cached = await _verify_us(url, via_thread=False)
        threaded = await _verify_us(url, via_thread=True)
    finally:
        await drop_database(server_url, name)
    print(
        json.dumps(
            {
                "transactions": TRANSACTIONS,
                "direct_ms_per_tx": round(direct, 3),
                "pgbouncer_set_config_ms_per_tx": round(per_tx, 3),
                "pgbouncer_role_settings_ms_per_tx": round(from_role, 3),
                "verifies": VERIFIES,
                "jwks_verify_cached_on_loop_us_p50": round(cached, 1),
                "jwks_verify_via_thread_us_p50": round(threaded, 1),
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    asyncio.run(main(parser.parse_args().database_url))
