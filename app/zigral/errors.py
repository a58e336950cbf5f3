"""Zigral's exceptions: one root, translated from third-party errors where they enter."""

from __future__ import annotations


class ZigralError(Exception):
    """Root of every error Zigral raises on purpose."""


class ConfigError(ZigralError):
    """A setting is missing or invalid; the message names the key and the value."""


class StackError(ZigralError):
    """The supervised stack could not be started, reached or stopped."""


class NotReady(ZigralError):
    """A part of the stack did not become ready in time."""
