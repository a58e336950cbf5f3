"""Zigral's example agent plugin: ``example`` reads and adds notes on a small notes page."""

from __future__ import annotations

from zigral_example.agent import Example
from zigral_example.settings import ExampleSettings

__all__ = ["Example", "ExampleSettings"]
