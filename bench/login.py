"""How long does a whole SP-initiated login take? ``start_login`` + ``finish_login`` per store, beside the floor.

One process, one run. For each store (memory, SQLite, Redis) a ``ServiceProvider`` with the same SP and
IdP configuration as bench/verify.py:

1. ``start_login(binding=HTTP-POST)`` (timed): builds the AuthnRequest and records the pending request
   (with the SHA-256 of a fresh browser-binding secret) in the store;
2. the test IdP answers it (untimed): a signed Response like bench/verify.py's (RSA-2048, RSA-SHA256/SHA-256,
   Response signed, 12 attributes, ~7 KB), with ``InResponseTo`` = the request ID;
3. ``finish_login({"SAMLResponse": b64, "RelayState": request_id}, browser_binding=secret)`` (timed):
   consumes the pending request, validates the Response, checks the browser binding, records the replay key.

The floor (bench/verify.py's: base64 + parse + exclusive c14n + SHA-256 + c14n(SignedInfo) + RSA verify) is
timed on the same Responses, in the same rounds, interleaved with the stores, so the ratios are robust to
the load of the machine. A login's time is the median of ``start_login`` plus the median of
``finish_login``; the last line is machine-readable:

``ratios: memory/floor=A sqlite/floor=B redis/floor=C``

Stores: ``MemoryStore()``; ``SQLiteStore(<tmp dir>/fedlib.db)`` (the default: WAL, ``synchronous=NORMAL``;
``--sqlite-full`` adds a row with ``synchronous=FULL``); ``RedisStore`` on a redis-server this script starts
on a free 127.0.0.1 port (no persistence) and stops at the end. Nothing else is contacted.

Usage: ``python bench/login.py [--quick] [--logins N] [--rounds R] [--sqlite-full]``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gc
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import verify  # bench/verify.py: the Response shape and the floor

from fedlib.config import SPConfig
from fedlib.constants import BINDING_HTTP_POST
from fedlib.metadata.idp import parse_idp_metadata
from fedlib.sp import ServiceProvider
from fedlib.stores import MemoryStore, RedisStore, SQLiteStore, Store
from fedlib.testing import ResponseSpec, TestKey, generate_key, idp_metadata_xml, mint_response
from fedlib.testing.redis_server import RedisServer, RedisServerError

MAX_LOGINS = 20_000  # an upper bound on --logins, so that no run is unbounded


@dataclass
class Row:
    name: str
    what: str
    open: Callable[[], Store] | None
    unavailable: str | None = None
    sp: ServiceProvider | None = None
    store: Store | None = None
    start_ns: list[int] = field(default_factory=list)
    finish_ns: list[int] = field(default_factory=list)

    @property
    def login_us(self) -> float:
        return (statistics.median(self.start_ns) + statistics.median(self.finish_ns)) / 1000


@dataclass(frozen=True)
class World:
    key: TestKey
    metadata_xml: bytes
    now: datetime
    cert_pem: bytes


def mint_answer(world: World, request_id: str) -> str:
    """The test IdP's answer to ``request_id``: the bench/verify.py Response, solicited."""
    spec = ResponseSpec(
        idp_entity_id=verify.IDP_ENTITY_ID,
        sp_entity_id=verify.SP_ENTITY_ID,
        acs_url=verify.ACS_URL,
        now=world.now,
        lifetime=verify.LIFETIME,
        name_id=verify.NAME_ID,
        attributes=verify.ATTRIBUTES,
        in_response_to=request_id,
    )
    xml = mint_response(
        spec,
        world.key,
        sign_response=True,
        sign_assertion=False,
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
    )
    return base64.b64encode(xml).decode("ascii")


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str | None]:
    """A redis-server on a free 127.0.0.1 port for the duration of the block (its URL), or None."""
    try:
        with RedisServer(workdir) as server:
            yield server.url
    except RedisServerError as exc:
        print(f"redis: unavailable ({exc})", file=sys.stderr)
        yield None


def one_round(rows: Sequence[Row], world: World, floor: Callable[[str], str], count: int, floor_ns: list[int]) -> None:
    """``count`` logins on each store in turn (start_login timed, minting untimed, finish_login timed);
    the floor on each Response right before or right after its login (alternately)."""
    clock = time.perf_counter_ns
    for row in rows:
        sp = row.sp
        if sp is None:
            continue
        gc.collect()
        gc.disable()
        try:
            started = []
            for _ in range(count):
                t0 = clock()
                request = sp.start_login(binding=BINDING_HTTP_POST, now=world.now)
                row.start_ns.append(clock() - t0)
                started.append(request)
        finally:
            gc.enable()
        answers = [mint_answer(world, request.request_id) for request in started]  # untimed
        gc.collect()
        gc.disable()
        try:
            for i, (request, b64) in enumerate(zip(started, answers, strict=True)):
                # The floor on the same Response, alternately before and after the login, so that neither
                # always meets the Response cold in the CPU caches.
                if i % 2:
                    time_floor(floor, b64, floor_ns)
                form = {"SAMLResponse": b64, "RelayState": request.request_id}
                t0 = clock()
                result = sp.finish_login(form, browser_binding=request.browser_binding, now=world.now)
                row.finish_ns.append(clock() - t0)
                if result.authn.name_id != verify.NAME_ID or not result.solicited:
                    raise RuntimeError(f"{row.name}: the login returned {result.authn.name_id!r}")
                if not i % 2:
                    time_floor(floor, b64, floor_ns)
        finally:
            gc.enable()


def time_floor(floor: Callable[[str], str], b64: str, floor_ns: list[int]) -> None:
    t0 = time.perf_counter_ns()
    name_id = floor(b64)
    floor_ns.append(time.perf_counter_ns() - t0)
    if name_id != verify.NAME_ID:
        raise RuntimeError(f"floor: returned {name_id!r}")


def check_row(row: Row, world: World) -> str | None:
    """Open the store, prove a replayed and a forged login are refused, warm up. Why it cannot run, or None."""
    if row.open is None:
        return row.unavailable or "unavailable"
    try:
        row.store = row.open()
    except Exception as exc:
        return f"cannot open the store: {type(exc).__name__}: {exc}"
    sp = ServiceProvider(
        SPConfig(entity_id=verify.SP_ENTITY_ID, acs_url=verify.ACS_URL),
        parse_idp_metadata(world.metadata_xml, now=world.now),
        row.store,
    )
    request = sp.start_login(binding=BINDING_HTTP_POST, now=world.now)
    b64 = mint_answer(world, request.request_id)
    form = {"SAMLResponse": b64, "RelayState": request.request_id}
    sp.finish_login(form, browser_binding=request.browser_binding, now=world.now)
    for what, binding_secret in (("a replayed", request.browser_binding), ("another browser's", "x" * 43)):
        try:
            sp.finish_login(form, browser_binding=binding_secret, now=world.now)
        except Exception:  # noqa: S112 - any refusal will do
            continue
        return f"accepted {what} login: not timed"
    request = sp.start_login(binding=BINDING_HTTP_POST, now=world.now)
    genuine = base64.b64decode(mint_answer(world, request.request_id))
    forged = base64.b64encode(genuine.replace(verify.NAME_ID.encode(), verify.TAMPERED_NAME_ID.encode())).decode()
    try:
        sp.finish_login({"SAMLResponse": forged}, browser_binding=request.browser_binding, now=world.now)
    except Exception:  # noqa: S110 - refused, as it must be
        pass
    else:
        return "accepted a tampered Response: not timed"
    row.sp = sp
    return None


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: few logins")
    ap.add_argument("--logins", type=int, help=f"timed logins per store (default 1000; quick 40; at most {MAX_LOGINS})")
    ap.add_argument("--rounds", type=int, help="interleaved rounds the logins are split into (default 5)")
    ap.add_argument("--sqlite-full", action="store_true", help="also time SQLite with synchronous=FULL")
    args = ap.parse_args(argv)
    logins = min(MAX_LOGINS, max(1, args.logins or (40 if args.quick else 1000)))
    rounds = max(1, min(logins, args.rounds or (1 if args.quick else 5)))

    key = generate_key("rsa", bits=2048, common_name="fedlib bench IdP")
    now = datetime.now(UTC).replace(microsecond=0)
    world = World(
        key=key,
        metadata_xml=idp_metadata_xml(verify.IDP_ENTITY_ID, [key.certificate], sso_url=verify.IDP_SSO_URL),
        now=now,
        cert_pem=key.cert_pem,
    )
    floor_fx = verify.Fixture(
        now=now, pool=[], tampered="", xml_size=0, metadata_xml=world.metadata_xml, cert_pem=key.cert_pem,
        cert_b64=key.cert_b64, minted_by="fedlib.testing",
    )  # fmt: skip
    floor, _ = verify.setup_floor(floor_fx)

    with tempfile.TemporaryDirectory(prefix="fedlib-bench-login-") as tmp, redis_server(Path(tmp) / "redis") as url:
        workdir = Path(tmp)
        rows = [
            Row("memory", "MemoryStore()", MemoryStore),
            Row(
                "sqlite", "SQLiteStore(<tmp>/fedlib.db), WAL, synchronous=NORMAL", lambda: SQLiteStore(workdir / "a.db")
            ),
        ]
        if args.sqlite_full:
            rows.append(
                Row(
                    "sqlite-full",
                    "SQLiteStore(<tmp>/full.db, synchronous='FULL')",
                    lambda: SQLiteStore(workdir / "full.db", synchronous="FULL"),
                )
            )
        rows.append(
            Row(
                "redis",
                "RedisStore(redis://127.0.0.1:<port>/0), a local redis-server",
                (lambda: RedisStore(url, prefix="bench")) if url else None,
                unavailable=None if url else "redis-server or the redis package missing",
            )
        )
        print(
            f"fedlib login bench: Python {platform.python_version()} on {platform.machine()}, "
            f"SQLite {sqlite3.sqlite_version}"
        )
        print(
            f"{logins} timed logins per store in {rounds} interleaved round(s) (start_login and finish_login timed, "
            "the IdP's answer minted untimed), the floor on the same Responses; GC off while timing"
        )
        for row in rows:
            row.unavailable = check_row(row, world)
            if row.unavailable:
                row.sp = None
        sys.stdout.flush()

        floor_ns: list[int] = []
        for r in range(rounds):
            count = logins // rounds + (1 if r < logins % rounds else 0)
            one_round(rows, world, floor, count, floor_ns)
        for row in rows:
            if row.store is not None:
                with contextlib.suppress(Exception):
                    row.store.close()  # type: ignore[attr-defined]

    floor_us = statistics.median(floor_ns) / 1000
    print()
    print(f"{'store':<12} {'start µs':>9} {'finish µs':>10} {'finish p90':>11} {'login µs':>9} {'x floor':>8}  what")
    for row in rows:
        if row.sp is None:
            print(f"{row.name:<12} unavailable: {row.unavailable}")
            continue
        finish_p90 = sorted(row.finish_ns)[int(0.9 * (len(row.finish_ns) - 1))] / 1000
        print(
            f"{row.name:<12} {statistics.median(row.start_ns) / 1000:>9,.0f} "
            f"{statistics.median(row.finish_ns) / 1000:>10,.0f} {finish_p90:>11,.0f} {row.login_us:>9,.0f} "
            f"{row.login_us / floor_us:>8.2f}  {row.what}"
        )
    print(
        f"{'floor':<12} {'':>9} {floor_us:>10,.0f} {'':>11} {floor_us:>9,.0f} {1:>8.2f}  "
        "verify.py's floor, same Responses"
    )
    print()

    def ratio(name: str) -> str:
        row = next((r for r in rows if r.name == name), None)
        return "n/a" if row is None or row.sp is None else f"{row.login_us / floor_us:.2f}"

    print(f"ratios: memory/floor={ratio('memory')} sqlite/floor={ratio('sqlite')} redis/floor={ratio('redis')}")
    return 0 if all(row.sp is not None for row in rows if row.name != "redis") else 1


if __name__ == "__main__":
    sys.exit(main())
