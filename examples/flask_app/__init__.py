"""A small Flask app protected by fedlib, wired to the bundled test IdP: see README.md."""
