"""Test tools for agents, Zigral's own and plugins' (docs/AGENTS.md).

- :mod:`~zigral.testing.server`: a fixture server that records hits and can rewrite what it serves;
- :mod:`~zigral.testing.mutate`: seeded markup mutations that keep or break a page's accessible semantics;
- :mod:`~zigral.testing.harness`: one action run straight in headless Chromium with the worker's
  ``ActionContext``.
"""
