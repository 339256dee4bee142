"""The routes a layer's spikes take to the outputs, through the layers' ``fed_by``.

The gradient at a layer's spikes comes back along these routes from the loss: a
layer that passes almost nothing on (silent, mostly dead) starves it only when every
route passes one. A parallel branch or a residual stream that fires is a route around
it. ``js/src/diagnose/routes.js`` ports this.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence


def blocked_routes(start: str, order: Mapping[str, int],
                   fed_by: Mapping[str, Sequence[str] | None], blocked: Collection[str],
                   end: str | None = None) -> frozenset[str] | None:
    """The ``blocked`` layers on the routes from ``start`` to the outputs, when every
    route passes one (``start`` itself included); an empty set when a route is open;
    None when the wiring of ``start`` or of a layer after it is unknown.

    ``order``: each layer's place in the model; ``fed_by``: the layers feeding each
    (feeds from later layers are recurrence, not a route; feeds that are not recorded
    layers lead nowhere here). The routes run over the layers from ``start`` to
    ``end`` (default: the last), and end at those that feed none of them."""
    if start not in order:
        return None
    top = order[end] if end is not None and end in order else max(order.values())
    span = [n for n in order if order[start] <= order[n] <= top]
    if any(fed_by.get(n) is None for n in span):
        return None
    after: dict[str, list[str]] = {n: [] for n in span}
    for n in span:
        for f in fed_by[n] or ():
            if f in after and order[f] < order[n]:
                after[f].append(n)
    reach, stack = {start}, [start]
    while stack:  # every layer start's spikes reach
        for n in after[stack.pop()]:
            if n not in reach:
                reach.add(n)
                stack.append(n)
    if start not in blocked:
        seen, stack = {start}, [start]
        while stack:  # an open route: to an output, through layers not blocked
            n = stack.pop()
            if not after[n]:
                return frozenset()
            for m in after[n]:
                if m not in seen and m not in blocked:
                    seen.add(m)
                    stack.append(m)
    return frozenset(n for n in reach if n in blocked)
