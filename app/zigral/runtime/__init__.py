"""The command path: a delivery goes through small decision steps and is settled once.

``pipeline`` holds the steps (decode, dedupe, expiry, action, lock, quota, attempt, execute, outcome),
``decisions`` what a step may decide, ``settle`` the one place that stores, publishes and acks,
``hooks`` the cross-cutting concerns (metrics, quotas, holds), ``transport`` the broker behind a small
interface and ``memory`` its in-memory twin for tests.
"""
