"""Runnable examples (outside the fedlib package)."""
