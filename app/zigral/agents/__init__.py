"""The agents: the base every agent extends (:mod:`zigral.agents.base`) and the two that ship with Zigral,
each a package of its own, found like anyone's agent through the ``zigral.agents`` entry points
(:mod:`zigral.registry`)."""
