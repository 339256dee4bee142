"""Which finding explains which, and the order that follows: root causes first.

A finding that follows from another (saturation of a non-binary layer, every layer
behind a silent one, a loss at chance behind a silent output) names its root cause and
points there instead of offering a second fix. ``js/src/diagnose/causes.js`` ports the linking;
the table and the words reach it in the payload.
"""

from __future__ import annotations

import dataclasses

from .pathology import Pathology, Severity

CAUSES: dict[str, tuple[tuple[str, str], ...]] = {
    # effect: (cause category, where: "same" layer, "earlier" layer, "upstream" (the same
    # or an earlier layer), or "any" layer)
    "dead_neurons": (("voltage_runaway", "same"), ("layer_died", "same"),
                     ("rate_fades_with_depth", "upstream"), ("silent_network", "same"),
                     ("silent_network", "earlier")),
    "silent_network": (("voltage_runaway", "same"), ("layer_died", "same"),
                       ("rate_fades_with_depth", "upstream"), ("silent_network", "earlier"),
                       ("dead_neurons", "earlier")),
    "layer_died": (("layer_died", "earlier"),),
    "saturated_neurons": (("non_binary_spikes", "same"),),
    "output_overflow": (("count_valued_input", "any"), ("non_binary_spikes", "any")),
    "gradient_vanishing": (("silent_network", "any"), ("layer_died", "any"),
                           ("dead_neurons", "any")),
    "loss_at_chance": (("silent_network", "any"), ("layer_died", "any"),
                       ("output_overflow", "any"), ("dead_neurons", "any"),
                       ("saturated_neurons", "any")),
}
"""Which finding explains which: an effect names its cause and gives no second fix.
A ``dead_neurons`` cause counts only when critical."""

FOLLOWS = "Follows from {category} at '{layer}': fix that first"
"""The fix of a finding that follows from another (its root cause)."""


def link_causes(found: list[Pathology], order: dict[str, int],
                categories: tuple[str, ...]) -> list[Pathology]:
    """Mark each finding that another explains (``cause``: the root of the chain of
    causes, with a pointer to it as its fix) and
    order them: each root cause leads, what follows from it comes right after; groups
    by their most severe finding, then upstream first. ``order``: each layer's place in
    the model; ``categories``: the rule order (ties)."""
    def pos(p: Pathology) -> int:
        return order.get(p.layer, len(order))

    def key(p: Pathology) -> tuple[int, int, int]:
        return (p.severity.rank, pos(p), categories.index(p.category))

    def cause_of(p: Pathology) -> Pathology | None:
        for category, where in CAUSES.get(p.category, ()):
            for c in sorted(found, key=key):
                if c is p or c.category != category or c.layer == "loss":
                    continue
                if category == "dead_neurons" and c.severity is not Severity.CRITICAL:
                    continue
                if ((where == "same" and c.layer == p.layer)
                        or (where == "earlier" and pos(c) < pos(p))
                        or (where == "upstream" and pos(c) <= pos(p))
                        or where == "any"):
                    return c
        return None

    parent = {id(p): cause_of(p) for p in found}

    def root(p: Pathology) -> Pathology:
        seen = {id(p)}
        while (c := parent[id(p)]) is not None and id(c) not in seen:
            seen.add(id(c))
            p = c
        return p

    linked = []
    for p in found:
        c = parent[id(p)]
        if c is None or root(c) is p:  # no cause, or a cycle back to itself
            linked.append((p, p))
            continue
        r = root(p)  # named as the cause: the one finding to fix
        linked.append((dataclasses.replace(
            p, cause=f"{r.category} @ {r.layer}",
            suggestion=FOLLOWS.format(category=r.category, layer=r.layer)), r))
    groups: dict[int, list[Pathology]] = {}
    roots: dict[int, Pathology] = {}
    for p, r in linked:
        groups.setdefault(id(r), []).append(p)
        roots[id(r)] = r

    def group_key(rid: int) -> tuple[int, int, int, int]:  # upstream roots first
        r = roots[rid]
        return (min(m.severity.rank for m in groups[rid]), pos(r), r.severity.rank,
                categories.index(r.category))

    out = []
    for rid in sorted(groups, key=group_key):
        members = groups[rid]
        lead = [m for m in members if m.cause is None]
        out += lead + sorted((m for m in members if m.cause is not None), key=key)
    return out
