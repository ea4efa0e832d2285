"""Loading configuration: a TOML file (or any mapping) in, frozen :class:`Settings` out.

A :class:`Settings` holds one or more tenants; each tenant is an :class:`~fedlib.config.SPConfig`, the
IdPs it trusts (:class:`~fedlib.sp.IdPConfig`, each with its own :class:`~fedlib.config.SecurityPolicy`),
a store URL, the origins an IdP-initiated RelayState may point to, and the lifetime of a pending login
request. ``Settings.service_provider(tenant)`` builds the :class:`~fedlib.sp.ServiceProvider` facade.

One tenant (called ``default``)::

    store = "sqlite:///var/lib/app/fedlib.db"         # default "memory://" (one process only)

    [sp]
    entity_id = "https://app.example.com/saml/metadata"
    acs_url = "https://app.example.com/saml/acs"      # the PUBLIC URL, never rebuilt from Host headers
    additional_acs_urls = []                          # published with indexes 1, 2, ...
    slo_url = "https://app.example.com/saml/slo"      # optional
    signing_key = "sp.key"                            # unencrypted PEM file; signs AuthnRequests
    signing_certificates = ["sp.crt", "sp-next.crt"]  # current first, then the next one (rollover)
    name_id_formats = ["urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"]
    relay_state_origins = ["https://app.example.com"] # absolute origins an IdP-initiated RelayState may use
    request_lifetime_seconds = 600                    # how long a login request stays answerable
    require_mfa = false                               # every login must prove MFA (docs/authorization.md)
    authn_context_order = [                           # weakest to strongest; a list = equal strength;
      "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",  # the last entry is MFA
      "https://refeds.org/profile/mfa",               # (default: fedlib.authn_context's order)
    ]

    [sp.attribute_map]                                # optional (docs/authorization.md)
    preset = "entra"                                  # entra|adfs|okta|google|keycloak|shibboleth|...
    names = { "urn:oid:2.5.4.10" = "organization" }   # attribute Name or FriendlyName -> app name
    required = ["email"]                              # missing: missing-required-attribute
    roles = [{ attribute = "groups", values = ["<group object ID>"], role = "admin" }]

    [sp.policy]                                       # the defaults of every IdP
    clock_skew_seconds = 180                          # 0..3600
    allow_unsolicited = false                         # IdP-initiated login
    allow_in_response_to_on_unsolicited = false       # quirk; needs allow_unsolicited
    allow_sha1 = false                                # INSECURE; better per IdP
    max_assertion_age_seconds = 600                   # 60..86400: oldest IssueInstant accepted (+ skew)
    max_message_bytes = 262144

    [sp.organization]                                 # optional, published in the metadata
    name = "Example Ltd"
    display_name = "Example"
    url = "https://www.example.com"
    lang = "en"

    [[sp.contacts]]                                   # optional, repeatable
    contact_type = "technical"                        # technical|support|administrative|billing|other
    given_name = "Ops"
    email_addresses = ["ops@example.com"]

    [[idps]]                                          # repeatable: one per trusted IdP
    metadata_file = "idp.xml"                         # or metadata_xml = '''<md:EntityDescriptor ...'''
                                                      # or metadata_url = "https://..." / mdq_base = "https://..."
    entity_id = "https://idp.example.org/saml"        # which entity of an aggregate (optional otherwise)
                                                      # or, instead of entity_id, every IdP of an aggregate
                                                      # passing a filter (each given key must hold):
    # entity_categories = ["http://refeds.org/category/research-and-scholarship"]
    # assurance_certifications = ["https://refeds.org/sirtfi"]
    # registration_authorities = ["http://www.swamid.se/"]
    # entity_attributes = { "urn:example:attribute" = ["value"] }   # any mdattr:EntityAttributes name
    metadata_signing_certificates = ["federation.crt"] # the aggregate must be signed by one of these
    backing_file = "idp-backing.xml"                  # metadata_url / mdq_base: last good copy, for start-up
    refresh_min_seconds = 600                         # metadata_url / mdq_base: refresh bounds (60..86400)
    refresh_max_seconds = 14400
    mdq_form = "entity-id"                            # mdq_base: or "sha1" ({sha1}<hex> identifiers)
    require_valid_until = true                        # an aggregate must carry validUntil (default: true for
                                                      # metadata_url / mdq_base, false for metadata_file/_xml)
    allow_unsolicited = true                          # these five override [sp.policy] for this IdP only
    allow_in_response_to_on_unsolicited = false
    allow_sha1 = false
    clock_skew_seconds = 300
    max_assertion_age_seconds = 600
    require_mfa = false                               # every login from this IdP must prove MFA
    mfa_from_authn_methods_references = false         # Entra ID: multipleauthn in authnmethodsreferences

Several tenants: replace ``[sp]`` and ``[[idps]]`` with ``[tenants.<name>.sp]`` and
``[[tenants.<name>.idps]]`` (names match ``[a-z0-9][a-z0-9-]{0,62}``); the top-level ``store`` is the
default of every tenant and ``[tenants.<name>] store = ...`` overrides it. Tenants may share one store:
each ServiceProvider keeps its keys under its tenant's prefix.

Instead of ``signing_key`` and ``signing_certificates`` (files), ``signing_key_pem`` and
``signing_certificates_pem`` take the PEM text itself (prefer a file readable only by the application
for the key).

Rules:

* **No switch makes a signature optional.** There is no ``strict``, ``want_messages_signed`` or
  ``want_assertions_signed``: every key not listed above, anywhere, is a :class:`ConfigurationError`
  naming it, so a typo or a setting carried over from another library fails loudly instead of being
  ignored.
* **Metadata from the network** (``metadata_url``: an https URL; ``mdq_base``: an MDQ service, with
  ``entity_id`` and ``metadata_signing_certificates``) is fetched by a
  :class:`~fedlib.federation.MetadataProvider` when the settings are loaded (the ``http`` extra), under
  the trust rules of docs/metadata.md (a signature whenever ``metadata_signing_certificates`` is given,
  always for aggregates and MDQ; validUntil on aggregates; never expired). Each ServiceProvider built from
  the settings is attached to its providers, so a refresh swaps its trust atomically; refreshing runs in
  background threads started by ``Settings.start_refresh()`` (``TenantRegistry.from_settings`` does it).
  Without ``entity_id``, every SAML 2.0 IdP of the fetched document is trusted, or only those that pass the
  entry's filter keys (:class:`~fedlib.metadata.document.EntityFilter`; with ``metadata_file`` too); an IdP
  that arrives with a later refresh gets the entry's policy and MFA keys.
* **Paths** are relative to ``base_dir`` (for :func:`load_settings_toml`: the file's directory); a relative
  path without a ``base_dir`` is an error, never resolved against the working directory. A relative
  SQLite store URL (``sqlite:///./x.db``) is resolved against ``base_dir`` too when there is one.
* Every bad value raises :class:`~fedlib.errors.ConfigurationError` with the key's full path.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, NamedTuple
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from fedlib._files import read_file, read_toml
from fedlib.attributes import AttributeMap
from fedlib.authn_context import DEFAULT_AUTHN_CONTEXT_ORDER, AuthnContextOrder
from fedlib.clock import Clock, ensure_aware
from fedlib.config import ContactPerson, Organization, SecurityPolicy, SPConfig
from fedlib.errors import ConfigurationError
from fedlib.metadata.document import EntityFilter, MetadataDocument, load_metadata_document
from fedlib.metadata.idp import DEFAULT_MAX_METADATA_BYTES, IdPMetadata
from fedlib.sp import DEFAULT_REQUEST_LIFETIME, IdPConfig, ServiceProvider
from fedlib.stores.base import Store
from fedlib.stores.url import open_store

if TYPE_CHECKING:  # pragma: no cover
    from fedlib.federation.http import HTTPFetcher
    from fedlib.federation.provider import MetadataProvider

DEFAULT_TENANT: Final = "default"
DEFAULT_STORE_URL: Final = "memory://"
MAX_REQUEST_LIFETIME: Final = timedelta(days=1)
_STORE_SCHEMES: Final = ("memory", "sqlite", "redis", "rediss")
TENANT_NAME_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
"""Tenant names: lowercase letters, digits and ``-``, 1 to 63 characters, not starting with ``-``."""


def check_tenant_name(name: object) -> str:
    """``name`` if it is a valid tenant name, else :class:`ConfigurationError`."""
    if not isinstance(name, str) or TENANT_NAME_PATTERN.fullmatch(name) is None:
        shown = repr(name)[:80]
        raise ConfigurationError(
            f"invalid tenant name {shown}: use 1 to 63 lowercase letters, digits and '-', not starting with '-'"
        )
    return name


SPIdentity = tuple[str, str]
"""(SP entity ID, ACS URL): what an IdP addresses an assertion to (its Audience and Recipient)."""


def sp_identities(config: SPConfig) -> frozenset[SPIdentity]:
    """Every (entity ID, ACS URL) pair an assertion for ``config`` may be addressed to."""
    return frozenset((config.entity_id, acs_url) for acs_url in config.acs_urls)


def sp_identity_conflict(first: str, second: str, identity: SPIdentity) -> ConfigurationError:
    """The error for two tenants that an IdP cannot tell apart."""
    entity_id, acs_url = identity
    return ConfigurationError(
        f"tenants {first!r} and {second!r} both use SP entity ID {entity_id!r} with ACS URL {acs_url!r}: "
        "an assertion issued for one would be valid at the other; give each tenant its own ACS URL "
        "(or its own entity ID)"
    )


def check_distinct_sp_identities(tenants: Iterable[tuple[str, SPConfig]]) -> None:
    """Refuse two tenants sharing an SP entity ID and an ACS URL (:func:`sp_identity_conflict`).

    Sharing only the entity ID is allowed: an assertion names its ACS URL (Recipient, Destination), so
    distinct ACS URLs keep the tenants apart, and replay entries are keyed by entity ID across tenants.
    """
    owners: dict[SPIdentity, str] = {}
    for name, config in tenants:
        for identity in sorted(sp_identities(config)):
            owner = owners.setdefault(identity, name)
            if owner != name:
                raise sp_identity_conflict(owner, name, identity)


# ---- the values ------------------------------------------------------------------------------------


class MetadataSource(NamedTuple):
    """A tenant's share of a metadata provider (``metadata_url`` / ``mdq_base``)."""

    provider: MetadataProvider
    entity_ids: tuple[str, ...] | None
    """The entity IDs this tenant takes from it; None: every IdP it serves."""
    idp_defaults: Callable[[IdPMetadata], IdPConfig] | None = None
    """The ``IdPConfig`` (the settings entry's policy and MFA keys) of an IdP that arrives with a later
    refresh (``MetadataProvider.attach(idp_defaults=...)``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantSettings:
    """One tenant: an SP, the IdPs it trusts, and how its ServiceProvider is built."""

    name: str = DEFAULT_TENANT
    sp: SPConfig
    idps: tuple[IdPConfig, ...]
    store_url: str = DEFAULT_STORE_URL
    """Where pending requests and replay entries live (see :func:`fedlib.stores.open_store`)."""
    relay_state_origins: tuple[str, ...] = ()
    """Absolute origins (``https://host[:port]``) an IdP-initiated RelayState may point to."""
    request_lifetime: timedelta = DEFAULT_REQUEST_LIFETIME
    require_mfa: bool = False
    """Every login of this tenant's application must prove MFA (``authn-context-not-satisfied``)."""
    authn_context_order: AuthnContextOrder = DEFAULT_AUTHN_CONTEXT_ORDER
    attribute_map: AttributeMap | None = None
    metadata_sources: tuple[MetadataSource, ...] = ()
    """IdPs fetched from URLs or MDQ: :class:`MetadataSource` (provider, the entity IDs this tenant takes
    from it or None for all, the settings of IdPs that arrive later; a plain ``(provider, entity_ids)`` pair
    is accepted). Every ServiceProvider built here is attached to them; tenants naming the same source share
    one provider."""

    def __post_init__(self) -> None:
        check_tenant_name(self.name)
        object.__setattr__(self, "metadata_sources", tuple(MetadataSource(*source) for source in self.metadata_sources))
        object.__setattr__(self, "idps", tuple(self.idps))
        object.__setattr__(self, "relay_state_origins", tuple(self.relay_state_origins))
        if not self.idps:
            raise ConfigurationError(f"tenant {self.name!r} trusts no IdP")
        seen: set[str] = set()
        for idp in self.idps:
            if idp.entity_id in seen:
                raise ConfigurationError(f"tenant {self.name!r}: IdP {idp.entity_id!r} is configured twice")
            seen.add(idp.entity_id)
        if not timedelta(0) < self.request_lifetime <= MAX_REQUEST_LIFETIME:
            raise ConfigurationError(f"tenant {self.name!r}: request_lifetime must be between 1 s and 1 day")

    def service_provider(self, store: Store | None = None, *, clock: Clock | None = None) -> ServiceProvider:
        """The facade for this tenant. Without ``store``, ``store_url`` is opened (the caller owns that
        store: ``sp.store.inner.close()`` when done). It is attached to the tenant's metadata providers
        (their current IdPs replace the ones loaded with the settings, and every refresh swaps them)."""
        provider = ServiceProvider(
            self.sp,
            self.idps,
            store if store is not None else open_store(self.store_url),
            tenant=self.name,
            clock=clock,
            request_lifetime=self.request_lifetime,
            relay_state_origins=self.relay_state_origins,
            require_mfa=self.require_mfa,
            authn_context_order=self.authn_context_order,
            attribute_map=self.attribute_map,
        )
        for source in self.metadata_sources:
            source.provider.attach(provider, source.entity_ids, idp_defaults=source.idp_defaults)
        return provider


@dataclass(frozen=True, slots=True)
class Settings:
    """Every tenant of an application, by name (a single-tenant file has one, ``default``)."""

    tenants: Mapping[str, TenantSettings]

    def __post_init__(self) -> None:
        tenants = dict(self.tenants)
        if not tenants:
            raise ConfigurationError("the settings define no tenant")
        for name, tenant in tenants.items():
            if tenant.name != name:
                raise ConfigurationError(f"tenant {name!r} is registered under another name ({tenant.name!r})")
        check_distinct_sp_identities((name, tenant.sp) for name, tenant in tenants.items())
        object.__setattr__(self, "tenants", MappingProxyType(tenants))

    def tenant(self, name: str = DEFAULT_TENANT) -> TenantSettings:
        """The settings of tenant ``name``; :class:`ConfigurationError` if there is none."""
        try:
            return self.tenants[name]
        except KeyError:
            raise ConfigurationError(f"unknown tenant {repr(name)[:80]}") from None

    def service_provider(
        self, tenant: str = DEFAULT_TENANT, store: Store | None = None, *, clock: Clock | None = None
    ) -> ServiceProvider:
        """The :class:`ServiceProvider` of ``tenant`` (see :meth:`TenantSettings.service_provider`)."""
        return self.tenant(tenant).service_provider(store, clock=clock)

    @property
    def metadata_providers(self) -> tuple[MetadataProvider, ...]:
        """Every metadata provider of every tenant (IdPs from ``metadata_url`` / ``mdq_base``), each once."""
        unique: dict[int, MetadataProvider] = {}
        for tenant in self.tenants.values():
            for source in tenant.metadata_sources:
                unique.setdefault(id(source.provider), source.provider)
        return tuple(unique.values())

    def start_refresh(self) -> None:
        """Start the background refresh of every metadata provider (idempotent)."""
        for provider in self.metadata_providers:
            provider.start()

    def stop_refresh(self) -> None:
        """Stop the background refresh threads and close the providers' HTTP clients."""
        for provider in self.metadata_providers:
            provider.close()


# ---- loading --------------------------------------------------------------------------------------

_POLICY_KEYS: Final = (
    "clock_skew_seconds",
    "allow_sha1",
    "allow_unsolicited",
    "allow_in_response_to_on_unsolicited",
    "max_assertion_age_seconds",
    "max_message_bytes",
)
_IDP_POLICY_KEYS: Final = _POLICY_KEYS[:5]
_SP_KEYS: Final = (
    "entity_id",
    "acs_url",
    "additional_acs_urls",
    "slo_url",
    "signing_key",
    "signing_key_pem",
    "signing_certificates",
    "signing_certificates_pem",
    "name_id_formats",
    "relay_state_origins",
    "request_lifetime_seconds",
    "policy",
    "organization",
    "contacts",
    "require_mfa",
    "authn_context_order",
    "attribute_map",
)
_IDP_AUTHZ_KEYS: Final = ("require_mfa", "mfa_from_authn_methods_references")
_IDP_SOURCE_KEYS: Final = ("metadata_file", "metadata_xml", "metadata_url", "mdq_base")
#: Every IdP of an aggregate that passes an EntityFilter (instead of entity_id).
_IDP_FILTER_KEYS: Final = (
    "entity_categories",
    "assurance_certifications",
    "registration_authorities",
    "entity_attributes",
)
_IDP_KEYS: Final = (
    *_IDP_SOURCE_KEYS,
    "entity_id",
    *_IDP_FILTER_KEYS,
    "metadata_signing_certificates",
    "backing_file",
    "refresh_min_seconds",
    "refresh_max_seconds",
    "mdq_form",
    "require_valid_until",
    *_IDP_POLICY_KEYS,
    *_IDP_AUTHZ_KEYS,
)
_ORGANIZATION_KEYS: Final = ("name", "display_name", "url", "lang")
_CONTACT_KEYS: Final = ("contact_type", "company", "given_name", "surname", "email_addresses", "telephone_numbers")
_TENANT_KEYS: Final = ("store", "sp", "idps")

_NO_OPTIONAL_SIGNATURE: Final = (
    "fedlib always requires a valid signature on the Response; no setting turns that off "
    "(an IdP that signs only the Assertion must be set to sign the Response)"
)
_HINTS: Final = {
    "strict": "fedlib is always strict; there is no strict switch",
    "wantmessagessigned": _NO_OPTIONAL_SIGNATURE,
    "wantassertionssigned": _NO_OPTIONAL_SIGNATURE,
    "wantresponsesigned": _NO_OPTIONAL_SIGNATURE,
    "requiresignature": _NO_OPTIONAL_SIGNATURE,
    "verifysignature": _NO_OPTIONAL_SIGNATURE,
    "metadataurl": "use metadata_url (an https URL) in an [[idps]] entry",
    "certfingerprint": "fingerprints are not accepted: the IdP's certificate must be in its metadata",
    "wantassertionsencrypted": "fedlib refuses encrypted assertions by design; there is no decryption key",
    "encryptionkey": "fedlib refuses encrypted assertions by design; there is no decryption key",
}


def load_settings_toml(
    path: str | Path, *, now: datetime, clock: Clock | None = None, fetcher: HTTPFetcher | None = None
) -> Settings:
    """Read a TOML settings file; relative paths in it are relative to its directory."""
    path = Path(path)
    data = read_toml(str(path))
    return load_settings(data, base_dir=path.resolve().parent, now=now, clock=clock, fetcher=fetcher)


def load_settings(
    data: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
    now: datetime,
    clock: Clock | None = None,
    fetcher: HTTPFetcher | None = None,
) -> Settings:
    """Build :class:`Settings` from parsed TOML (or any mapping of the same shape; see the module doc).

    Args:
        data: the settings.
        base_dir: what relative paths are relative to; None: relative paths are refused.
        now: the current time (IdP metadata past its validUntil is refused).
        clock: the time source of metadata providers (``metadata_url`` / ``mdq_base``; default the system
            clock).
        fetcher: the HTTP client of those providers (timeouts, CA bundle, proxy); default an
            ``HTTPFetcher()`` each.

    Raises:
        ConfigurationError: an unknown key, a missing or bad value, an unreadable file, unusable metadata.
    """
    now = ensure_aware(now)
    loader = _Loader(base_dir, now, clock, fetcher)
    try:
        return _load(loader, data)
    except BaseException:
        # A refused load leaves nothing open: the HTTP clients of the providers it made are closed (a caller that
        # retries a failing load, as a Django site does on every request, would otherwise keep one per attempt).
        loader.close_opened()
        raise


def _load(loader: _Loader, data: Mapping[str, Any]) -> Settings:
    root = _table(data, "")
    loader.wanted = _wanted_entities(root)
    if "tenants" in root:
        if "sp" in root or "idps" in root:
            raise ConfigurationError("use either [sp] and [[idps]] (one tenant) or [tenants.<name>], not both")
        _keys(root, "", ("store", "tenants"))
        default_store = loader.store_url(root, "", DEFAULT_STORE_URL)
        tenants_table = _table(root["tenants"], "tenants")
        if not tenants_table:
            raise ConfigurationError("[tenants] defines no tenant")
        tenants = {}
        for name, raw in tenants_table.items():
            where = f"tenants.{name}"
            check_tenant_name(name)
            tenants[name] = loader.tenant(name, _table(raw, where), where, default_store)
        return Settings(tenants)
    _keys(root, "", _TENANT_KEYS, extra_hint=" (or tenants, for several tenants)")
    default_store = loader.store_url(root, "", DEFAULT_STORE_URL)
    return Settings({DEFAULT_TENANT: loader.tenant(DEFAULT_TENANT, root, "", default_store)})


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _keys(raw: Mapping[str, Any], where: str, allowed: Sequence[str], extra_hint: str = "") -> None:
    for key in raw:
        if key in allowed:
            continue
        hint = _HINTS.get(str(key).lower().replace("_", "").replace("-", ""))
        message = f"unknown setting {_path(where, str(key))!r}"
        if hint:
            message += f": {hint}"
        else:
            message += f"; allowed here: {', '.join(allowed)}{extra_hint}"
        raise ConfigurationError(message)


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where or 'the settings'} must be a table")
    return value


def _str(raw: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    if key not in raw:
        if required:
            raise ConfigurationError(f"{_path(where, key)} is required")
        return None
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{_path(where, key)} must be a non-empty string")
    return value


def _str_list(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigurationError(f"{_path(where, key)} must be a list of non-empty strings")
    return tuple(value)


def _bool(raw: Mapping[str, Any], key: str, where: str) -> bool | None:
    if key not in raw:
        return None
    value = raw[key]
    if not isinstance(value, bool):
        raise ConfigurationError(f"{_path(where, key)} must be true or false")
    return value


def _number(raw: Mapping[str, Any], key: str, where: str, low: float, high: float) -> float | None:
    if key not in raw:
        return None
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{_path(where, key)} must be a number")
    if not low <= value <= high:
        raise ConfigurationError(f"{_path(where, key)} must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _int(raw: Mapping[str, Any], key: str, where: str, low: int, high: int) -> int | None:
    if key not in raw:
        return None
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{_path(where, key)} must be an integer")
    if not low <= value <= high:
        raise ConfigurationError(f"{_path(where, key)} must be between {low} and {high}, got {value!r}")
    return value


def _origin(value: str, where: str) -> str:
    try:
        parts = urlsplit(value)
    except (ValueError, TypeError, AttributeError):  # "https://[x", NFKC-changing hosts, not a str
        raise ConfigurationError(f"{where}: {value!r} is not an origin (https://host or https://host:port)") from None
    if (
        parts.scheme not in ("https", "http")
        or not parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        raise ConfigurationError(f"{where}: {value!r} is not an origin (https://host or https://host:port)")
    return f"{parts.scheme}://{parts.netloc}".lower()


def _wrap(where: str, exc: ConfigurationError) -> ConfigurationError:
    return ConfigurationError(f"{where}: {exc.message}" if where else exc.message, detail=exc.detail)


class _Loader:
    def __init__(
        self, base_dir: Path | None, now: datetime, clock: Clock | None = None, fetcher: HTTPFetcher | None = None
    ) -> None:
        self.base_dir = base_dir
        self.now = now
        self.clock = clock
        self.fetcher = fetcher
        # One parse and verification per distinct document, one provider per distinct remote source,
        # however many IdP entries and tenants use it (a federation aggregate shared by every tenant).
        self.wanted: dict[tuple[str, ...], set[str] | None] = {}
        self._documents: dict[tuple[str, ...], MetadataDocument] = {}
        self._providers: dict[tuple[str, ...], MetadataProvider] = {}

    def close_opened(self) -> None:
        """After a refused load: close the providers made so far (with the HTTP clients they made; a fetcher the
        caller gave stays the caller's)."""
        for provider in self._providers.values():
            if self.fetcher is None:
                provider.close()
            else:
                provider.stop()

    # files

    def resolve(self, value: str, where: str) -> Path:
        path = Path(value)
        if path.is_absolute():
            return path
        if self.base_dir is None:
            raise ConfigurationError(
                f"{where}: relative path {value!r} needs a base directory (pass base_dir, or use load_settings_toml)"
            )
        return self.base_dir / path

    def read(self, value: str, where: str) -> bytes:
        path = self.resolve(value, where)
        try:
            return read_file(str(path), limit=DEFAULT_MAX_METADATA_BYTES)  # a key, a certificate or metadata
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}: {exc.message}") from None

    def certificates(self, pems: Sequence[bytes], where: str) -> list[x509.Certificate]:
        out: list[x509.Certificate] = []
        for pem in pems:
            try:
                out.extend(x509.load_pem_x509_certificates(pem))
            except ValueError:
                raise ConfigurationError(f"{where}: not a PEM certificate") from None
        return out

    def store_url(self, raw: Mapping[str, Any], where: str, default: str) -> str:
        url = _str(raw, "store", where) or default
        scheme, sep, _ = url.partition("://")
        if not sep or scheme.lower() not in _STORE_SCHEMES:
            shown = url if "@" not in url else scheme + "://***"
            raise ConfigurationError(
                f"{_path(where, 'store')}: {shown!r} is not a store URL (memory://, sqlite:///path, redis://host/0)"
            )
        if self.base_dir is not None and url.lower().startswith(("sqlite:///./", "sqlite:///../")):
            url = "sqlite://" + str(self.base_dir / url[len("sqlite:///") :])
        return url

    # sections

    def tenant(self, name: str, raw: Mapping[str, Any], where: str, default_store: str) -> TenantSettings:
        if where:
            _keys(raw, where, _TENANT_KEYS)
        store = self.store_url(raw, where, default_store) if where else default_store
        if "sp" not in raw:
            raise ConfigurationError(f"[{_path(where, 'sp')}] is required")
        sp_where = _path(where, "sp")
        sp_raw = _table(raw["sp"], sp_where)
        sp = self.sp(sp_raw, sp_where)
        idps_where = _path(where, "idps")
        idps_raw = raw.get("idps", [])
        if not isinstance(idps_raw, list) or not idps_raw:
            raise ConfigurationError(f"[[{idps_where}]] is required: at least one trusted IdP")
        idps: list[IdPConfig] = []
        sources: list[MetadataSource] = []
        for i, item in enumerate(idps_raw):
            configs, source = self.idp(item, f"{idps_where}[{i}]", sp.policy)
            idps += configs
            if source is not None:
                sources.append(source)
        origins = tuple(
            _origin(o, _path(sp_where, "relay_state_origins"))
            for o in _str_list(sp_raw, "relay_state_origins", sp_where)
        )
        lifetime = _int(sp_raw, "request_lifetime_seconds", sp_where, 1, int(MAX_REQUEST_LIFETIME.total_seconds()))
        order = DEFAULT_AUTHN_CONTEXT_ORDER
        if "authn_context_order" in sp_raw:
            order_where = _path(sp_where, "authn_context_order")
            raw_order = sp_raw["authn_context_order"]
            if not isinstance(raw_order, list):
                raise ConfigurationError(f"{order_where} must be a list of class URIs (or lists of them)")
            try:
                order = AuthnContextOrder.from_list(raw_order)
            except ConfigurationError as exc:
                raise _wrap(order_where, exc) from None
        attribute_map = None
        if "attribute_map" in sp_raw:
            attribute_map = AttributeMap.from_dict(
                _table(sp_raw["attribute_map"], _path(sp_where, "attribute_map")), _path(sp_where, "attribute_map")
            )
        try:
            return TenantSettings(
                name=name,
                sp=sp,
                idps=tuple(idps),
                store_url=store,
                relay_state_origins=origins,
                request_lifetime=timedelta(seconds=lifetime) if lifetime is not None else DEFAULT_REQUEST_LIFETIME,
                require_mfa=bool(_bool(sp_raw, "require_mfa", sp_where)),
                authn_context_order=order,
                attribute_map=attribute_map,
                metadata_sources=tuple(sources),
            )
        except ConfigurationError as exc:
            raise _wrap(where, exc) from None

    def policy(self, raw: Mapping[str, Any], where: str, keys: Sequence[str], base: SecurityPolicy) -> SecurityPolicy:
        changes: dict[str, Any] = {}
        skew = _number(raw, "clock_skew_seconds", where, 0, 3600)
        if skew is not None:
            changes["clock_skew"] = timedelta(seconds=skew)
        max_age = _number(raw, "max_assertion_age_seconds", where, 60, 86400)
        if max_age is not None:
            changes["max_assertion_age"] = timedelta(seconds=max_age)
        for key in ("allow_sha1", "allow_unsolicited", "allow_in_response_to_on_unsolicited"):
            value = _bool(raw, key, where)
            if value is not None:
                changes[key] = value
        if "max_message_bytes" in keys:
            size = _int(raw, "max_message_bytes", where, 1024, 64 * 1024 * 1024)
            if size is not None:
                changes["max_message_bytes"] = size
        try:
            policy = dataclasses.replace(base, **changes)
        except ConfigurationError as exc:
            raise _wrap(where, exc) from None
        if policy.allow_in_response_to_on_unsolicited and not policy.allow_unsolicited:
            raise ConfigurationError(
                f"{_path(where, 'allow_in_response_to_on_unsolicited')} needs allow_unsolicited = true"
            )
        return policy

    def sp(self, raw: Mapping[str, Any], where: str) -> SPConfig:
        _keys(raw, where, _SP_KEYS)
        policy_where = _path(where, "policy")
        policy_raw = _table(raw.get("policy", {}), policy_where)
        _keys(policy_raw, policy_where, _POLICY_KEYS)
        policy = self.policy(policy_raw, policy_where, _POLICY_KEYS, SecurityPolicy())

        if "signing_key" in raw and "signing_key_pem" in raw:
            raise ConfigurationError(f"{where}: give signing_key (a file) or signing_key_pem, not both")
        key_pem: bytes | None = None
        key_where = _path(where, "signing_key")
        if (key_file := _str(raw, "signing_key", where)) is not None:
            key_pem = self.read(key_file, key_where)
        elif (key_text := _str(raw, "signing_key_pem", where)) is not None:
            key_where = _path(where, "signing_key_pem")
            key_pem = key_text.encode("utf-8")
        signing_key = _private_key(key_pem, key_where) if key_pem is not None else None

        if "signing_certificates" in raw and "signing_certificates_pem" in raw:
            raise ConfigurationError(
                f"{where}: give signing_certificates (files) or signing_certificates_pem, not both"
            )
        certs: list[x509.Certificate] = []
        for i, cert_file in enumerate(_str_list(raw, "signing_certificates", where)):
            cert_where = f"{_path(where, 'signing_certificates')}[{i}]"
            certs += self.certificates([self.read(cert_file, cert_where)], cert_where)
        for i, cert_text in enumerate(_str_list(raw, "signing_certificates_pem", where)):
            certs += self.certificates([cert_text.encode("utf-8")], f"{_path(where, 'signing_certificates_pem')}[{i}]")

        organization = None
        if "organization" in raw:
            org_where = _path(where, "organization")
            org_raw = _table(raw["organization"], org_where)
            _keys(org_raw, org_where, _ORGANIZATION_KEYS)
            try:
                organization = Organization(
                    name=_str(org_raw, "name", org_where, required=True) or "",
                    display_name=_str(org_raw, "display_name", org_where, required=True) or "",
                    url=_str(org_raw, "url", org_where, required=True) or "",
                    lang=_str(org_raw, "lang", org_where) or "en",
                )
            except ConfigurationError as exc:
                raise _wrap(org_where, exc) from None

        contacts: list[ContactPerson] = []
        contacts_raw = raw.get("contacts", [])
        if not isinstance(contacts_raw, list):
            raise ConfigurationError(f"{_path(where, 'contacts')} must be an array of tables ([[...contacts]])")
        for i, item in enumerate(contacts_raw):
            c_where = f"{_path(where, 'contacts')}[{i}]"
            c_raw = _table(item, c_where)
            _keys(c_raw, c_where, _CONTACT_KEYS)
            try:
                contacts.append(
                    ContactPerson(
                        contact_type=_str(c_raw, "contact_type", c_where, required=True) or "",
                        company=_str(c_raw, "company", c_where),
                        given_name=_str(c_raw, "given_name", c_where),
                        surname=_str(c_raw, "surname", c_where),
                        email_addresses=_str_list(c_raw, "email_addresses", c_where),
                        telephone_numbers=_str_list(c_raw, "telephone_numbers", c_where),
                    )
                )
            except ConfigurationError as exc:
                raise _wrap(c_where, exc) from None

        try:
            return SPConfig(
                entity_id=_str(raw, "entity_id", where, required=True) or "",
                acs_url=_str(raw, "acs_url", where, required=True) or "",
                policy=policy,
                additional_acs_urls=_str_list(raw, "additional_acs_urls", where),
                slo_url=_str(raw, "slo_url", where),
                signing_key=signing_key,
                signing_certificates=tuple(certs),
                name_id_formats=_str_list(raw, "name_id_formats", where),
                organization=organization,
                contacts=tuple(contacts),
            )
        except ConfigurationError as exc:
            raise _wrap(where, exc) from None

    def idp(self, item: Any, where: str, sp_policy: SecurityPolicy) -> tuple[list[IdPConfig], MetadataSource | None]:
        raw = _table(item, where)
        _keys(raw, where, _IDP_KEYS)
        sources = [key for key in _IDP_SOURCE_KEYS if key in raw]
        if len(sources) != 1:
            raise ConfigurationError(f"{where}: give exactly one of {', '.join(_IDP_SOURCE_KEYS)}")
        remote_only = [k for k in ("backing_file", "refresh_min_seconds", "refresh_max_seconds") if k in raw]
        if sources[0] in ("metadata_file", "metadata_xml") and remote_only:
            raise ConfigurationError(f"{where}: {remote_only[0]} needs metadata_url or mdq_base")
        if "mdq_form" in raw and sources[0] != "mdq_base":
            raise ConfigurationError(f"{where}: mdq_form needs mdq_base")
        # An aggregate (md:EntitiesDescriptor) must carry validUntil: on by default for what is fetched
        # (metadata_url, mdq_base), off for a local file (its historical rule); either way if set.
        require_valid_until = _bool(raw, "require_valid_until", where)
        policy = (
            self.policy(raw, where, _IDP_POLICY_KEYS, sp_policy) if any(k in raw for k in _IDP_POLICY_KEYS) else None
        )
        entity_id = _str(raw, "entity_id", where)
        entity_filter = _entity_filter(raw, where)
        if entity_filter is not None and entity_id is not None:
            raise ConfigurationError(
                f"{where}: entity_id names one IdP, {_first_filter_key(raw)} selects IdPs by what the federation "
                "registered; give one or the other"
            )
        if entity_filter is not None and sources[0] == "mdq_base":
            raise ConfigurationError(
                f"{where}: {_first_filter_key(raw)} selects IdPs of an aggregate; mdq_base serves one named entity"
            )
        authz = {
            "require_mfa": bool(_bool(raw, "require_mfa", where)),
            "mfa_from_authn_methods_references": bool(_bool(raw, "mfa_from_authn_methods_references", where)),
        }
        if sources[0] in ("metadata_url", "mdq_base"):
            key = _remote_key(raw)
            assert key is not None
            metadata_provider = self._providers.get(key)
            if metadata_provider is None:
                metadata_provider = self.metadata_provider(
                    raw,
                    where,
                    sources[0],
                    self.wanted.get(key),
                    entity_filter=entity_filter,
                    require_valid_until=require_valid_until is not False,
                )
                self._providers[key] = metadata_provider
            served = metadata_provider.current().idps
            if entity_id is not None and entity_id not in served:
                raise ConfigurationError(f"{where}: the metadata has no entity {entity_id!r}")
            chosen = [served[entity_id]] if entity_id is not None else list(served.values())
            selection = (entity_id,) if entity_id is not None else None
            defaults = functools.partial(
                IdPConfig,
                policy=policy,
                require_mfa=authz["require_mfa"],
                mfa_from_authn_methods_references=authz["mfa_from_authn_methods_references"],
            )
            return [defaults(m) for m in chosen], MetadataSource(metadata_provider, selection, defaults)
        signers_raw = repr(raw.get("metadata_signing_certificates"))
        file_requires_valid_until = require_valid_until is True
        if sources[0] == "metadata_file":
            path = self.resolve(_str(raw, "metadata_file", where) or "", _path(where, "metadata_file"))
            doc_key = ("file", str(path), signers_raw, repr(file_requires_valid_until))
            xml = b"" if doc_key in self._documents else self.read(str(path), _path(where, "metadata_file"))
        else:
            xml = (_str(raw, "metadata_xml", where) or "").encode("utf-8")
            doc_key = ("xml", hashlib.sha256(xml).hexdigest(), signers_raw, repr(file_requires_valid_until))
        try:
            document = self._documents.get(doc_key)
            if document is None:
                document = load_metadata_document(
                    xml,
                    now=self.now,
                    signed_by=self.metadata_signers(raw, where),
                    allow_unsigned_aggregate=True,  # a local file: the historical rules (docs/metadata.md)
                    require_valid_until=file_requires_valid_until,
                )
                self._documents[doc_key] = document
            if entity_filter is not None:
                chosen_ids = document.idp_entity_ids_matching(entity_filter)
                if not chosen_ids:
                    raise ConfigurationError(f"no SAML 2.0 IdP of the metadata passes {_first_filter_key(raw)}")
                return [IdPConfig(document.idp(e, now=self.now), policy, **authz) for e in chosen_ids], None
            metadata = document.idp(entity_id, now=self.now)
        except ConfigurationError as exc:
            raise _wrap(where, exc) from None
        return [IdPConfig(metadata, policy, **authz)], None

    def metadata_signers(self, raw: Mapping[str, Any], where: str) -> list[x509.Certificate] | None:
        if "metadata_signing_certificates" not in raw:
            return None
        files = _str_list(raw, "metadata_signing_certificates", where)
        if not files:
            raise ConfigurationError(f"{_path(where, 'metadata_signing_certificates')} is empty")
        signed_by: list[x509.Certificate] = []
        for i, cert_file in enumerate(files):
            cert_where = f"{_path(where, 'metadata_signing_certificates')}[{i}]"
            signed_by += self.certificates([self.read(cert_file, cert_where)], cert_where)
        return signed_by

    def metadata_provider(
        self,
        raw: Mapping[str, Any],
        where: str,
        source_key: str,
        wanted: set[str] | None,
        *,
        entity_filter: EntityFilter | None = None,
        require_valid_until: bool = True,
    ) -> MetadataProvider:
        # The adapter is imported only when a setting needs the network (it needs the http extra).
        from fedlib.federation.mdq import mdq_url
        from fedlib.federation.provider import MetadataProvider
        from fedlib.federation.sources import URLSource
        from fedlib.metadata.document import RefreshPolicy

        signers = self.metadata_signers(raw, where)
        entity_id = _str(raw, "entity_id", where)
        low = _int(raw, "refresh_min_seconds", where, 60, 86400)
        high = _int(raw, "refresh_max_seconds", where, 60, 86400)
        backing = _str(raw, "backing_file", where)
        try:
            refresh = RefreshPolicy(
                min_delay=timedelta(seconds=low if low is not None else 600),
                max_delay=timedelta(seconds=high if high is not None else max(14400, low or 0)),
            )
            if source_key == "mdq_base":
                if entity_id is None or not signers:
                    raise ConfigurationError("mdq_base needs entity_id and metadata_signing_certificates")
                form = raw.get("mdq_form", "entity-id")
                if form not in ("entity-id", "sha1"):
                    raise ConfigurationError('mdq_form must be "entity-id" or "sha1"')
                url = mdq_url(_str(raw, "mdq_base", where) or "", entity_id, form)
            else:
                url = _str(raw, "metadata_url", where) or ""
            source = URLSource(url, fetcher=self.fetcher)
            try:
                return MetadataProvider(
                    source,
                    signer=signers,
                    entity_ids=sorted(wanted) if wanted is not None and entity_filter is None else None,
                    entity_filter=entity_filter,
                    require_valid_until=require_valid_until,
                    require_signature=source_key == "mdq_base",
                    backing_file=self.resolve(backing, _path(where, "backing_file")) if backing else None,
                    refresh=refresh,
                    clock=self.clock,
                )
            except BaseException:
                if self.fetcher is None:  # the client URLSource made for this provider: nobody else will close it
                    source.fetcher.close()
                raise
        except ConfigurationError as exc:
            raise _wrap(where, exc) from None


def _remote_key(raw: Any) -> tuple[str, ...] | None:
    """What makes two [[idps]] entries the same remote source (one provider, one fetch): the raw settings."""
    if not isinstance(raw, Mapping):
        return None
    for source in ("metadata_url", "mdq_base"):
        if source in raw:
            keys = [
                source,
                "metadata_signing_certificates",
                "backing_file",
                "refresh_min_seconds",
                "refresh_max_seconds",
            ]
            if source == "mdq_base":
                keys += ["entity_id", "mdq_form"]  # one MDQ URL per entity
            keys += _IDP_FILTER_KEYS  # one provider per filter: it decides which IdPs the document serves
            # the rule in effect, so that leaving the key out and its default value are the same source
            return (source, *(repr(raw.get(k)) for k in keys), repr(raw.get("require_valid_until", True)))
    return None


def _entity_filter(raw: Mapping[str, Any], where: str) -> EntityFilter | None:
    """The EntityFilter of an [[idps]] entry's filter keys, or None when it has none."""
    if not any(key in raw for key in _IDP_FILTER_KEYS):
        return None
    lists: dict[str, tuple[str, ...]] = {}
    for key in _IDP_FILTER_KEYS[:3]:
        if key in raw:
            lists[key] = _str_list(raw, key, where)
            if not lists[key]:
                raise ConfigurationError(f"{_path(where, key)} is empty (leave it out to not filter on it)")
    attributes: dict[str, list[str]] | None = None
    if "entity_attributes" in raw:
        attributes_where = _path(where, "entity_attributes")
        table = _table(raw["entity_attributes"], attributes_where)
        if not table:
            raise ConfigurationError(f"{attributes_where} is empty (leave it out to not filter on it)")
        attributes = {}
        for name in table:
            attributes[name] = list(_str_list(table, name, attributes_where))
            if not attributes[name]:
                raise ConfigurationError(f"{_path(attributes_where, name)} lists no value")
    try:
        return EntityFilter(**lists, entity_attributes=attributes)
    except ConfigurationError as exc:
        raise _wrap(where, exc) from None


def _first_filter_key(raw: Mapping[str, Any]) -> str:
    return next(key for key in _IDP_FILTER_KEYS if key in raw)


def _wanted_entities(root: Mapping[str, Any]) -> dict[tuple[str, ...], set[str] | None]:
    """For each remote source, the entity IDs some [[idps]] entry names (None: one entry takes them all).
    A best-effort pre-pass: malformed entries are skipped here and refused by the real pass."""
    entries: list[Any] = []
    tenants = root.get("tenants")
    if isinstance(tenants, Mapping):
        for tenant in tenants.values():
            if isinstance(tenant, Mapping) and isinstance(tenant.get("idps"), list):
                entries += tenant["idps"]
    elif isinstance(root.get("idps"), list):
        entries += root["idps"]
    wanted: dict[tuple[str, ...], set[str] | None] = {}
    for entry in entries:
        key = _remote_key(entry)
        if key is None:
            continue
        entity_id = entry.get("entity_id")
        if not isinstance(entity_id, str):
            wanted[key] = None
        elif key not in wanted:
            wanted[key] = {entity_id}
        elif (current := wanted[key]) is not None:
            current.add(entity_id)
    return wanted


def _private_key(pem: bytes, where: str) -> Any:
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise ConfigurationError(
            f"{where}: the key is an encrypted PEM; settings take an unencrypted key file readable only by the "
            "application (or build SPConfig in code with a decrypted key object)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigurationError(f"{where}: not a PEM private key") from None


# ---- writing TOML (the stdlib reads TOML but does not write it) -------------------------------------

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")


def dump_toml(data: Mapping[str, Any]) -> str:
    """``data`` (strings, booleans, numbers, lists, nested mappings; None values are left out) as TOML.

    Enough for settings files: tables become ``[a.b]`` sections, lists of mappings ``[[a.b]]`` sections,
    multi-line strings (PEM, XML) multi-line literal strings. ``tomllib.loads`` reads back the same data.
    """
    lines: list[str] = []
    _emit_table(lines, (), data, header=None)
    return "\n".join(lines).strip("\n") + "\n"


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _emit_table(lines: list[str], path: tuple[str, ...], table: Mapping[str, Any], header: str | None) -> None:
    if header is not None:
        lines += ["", header]
    nested: list[tuple[str, Any]] = []
    for key, value in table.items():
        if value is None:
            continue
        if isinstance(value, Mapping) or _is_table_array(value):
            nested.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in nested:
        sub = (*path, key)
        dotted = ".".join(_toml_key(k) for k in sub)
        if isinstance(value, Mapping):
            _emit_table(lines, sub, value, header=f"[{dotted}]")
        else:
            for item in value:
                _emit_table(lines, sub, item, header=f"[[{dotted}]]")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _basic_string(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("TOML settings take finite numbers only")
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        if any(isinstance(v, Mapping) for v in value):
            raise ValueError("a list mixing tables and values cannot be written as TOML")
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ValueError(f"cannot write a {type(value).__name__} as TOML")


def _toml_string(value: str) -> str:
    multiline_ok = (
        "\n" in value
        and "'''" not in value
        and not value.endswith("'")
        and not any((ord(c) < 0x20 and c not in "\n\t") or ord(c) == 0x7F for c in value)
    )
    if multiline_ok:
        return "'''\n" + value + "'''"
    return _basic_string(value)


def _basic_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


__all__ = [
    "DEFAULT_STORE_URL",
    "DEFAULT_TENANT",
    "TENANT_NAME_PATTERN",
    "MetadataSource",
    "Settings",
    "TenantSettings",
    "check_tenant_name",
    "dump_toml",
    "load_settings",
    "load_settings_toml",
]
