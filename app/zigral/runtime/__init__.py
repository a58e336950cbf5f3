"""The command path: a delivery goes through small decision steps and is settled once.

``pipeline`` holds the steps (decode, resolve, expiry, claim, quota, attempt, execute, outcome), ``claim``
the one Redis call that starts a command, ``decisions`` what a step may decide, ``settle`` the one place
that stores, publishes and acks, ``hooks`` the cross-cutting concerns (metrics, quotas, holds),
``browsing`` an action on the work tab, ``transport`` the broker behind a small interface and ``memory``
its in-memory twin for tests.
"""
