"""Federation metadata lifecycle (adapter: network and file I/O around the sans-I/O metadata core).

* :class:`MetadataProvider`: IdP metadata from a file or an https URL, signature and validUntil rules,
  backing file, refresh in a background thread, atomic trust swaps in attached ``ServiceProvider``s;
* :class:`MDQClient`: per-entity lookups in an MDQ service (signed, cached, negative-cached);
* :class:`HTTPFetcher`: the HTTP client (httpx, optional extra ``fedlib[http]``, imported lazily).

See docs/metadata.md.
"""

from fedlib.federation.http import FetchError, HTTPFetcher
from fedlib.federation.mdq import MDQClient, mdq_url
from fedlib.federation.provider import MetadataProvider, MetadataSnapshot, ProviderStatus
from fedlib.federation.sources import FileSource, Source, URLSource, source_for

__all__ = [
    "FetchError",
    "FileSource",
    "HTTPFetcher",
    "MDQClient",
    "MetadataProvider",
    "MetadataSnapshot",
    "ProviderStatus",
    "Source",
    "URLSource",
    "mdq_url",
    "source_for",
]
