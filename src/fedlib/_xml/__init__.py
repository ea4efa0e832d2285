"""Private XML plumbing: the hardened parser and the ID index. Not public API."""
