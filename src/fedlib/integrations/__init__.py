"""Thin adapters between fedlib's sans-I/O ServiceProvider and web frameworks."""
