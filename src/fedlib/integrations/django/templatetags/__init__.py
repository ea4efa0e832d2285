"""Template tags of the fedlib Django app (``{% load fedlib %}``)."""
