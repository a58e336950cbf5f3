"""The whole VM's watch: process states from supervisor events, resources, the browser, the remote view,
queues, the status page's data, and recycling Chromium at a safe point. Runs as ``zigral ops``, a
supervisor ``[eventlistener]``."""
