"""Which finding explains which, and the order that follows: root causes first.

A finding that follows from another (saturation of a non-binary layer, a layer fed only
by silent ones, a loss at chance behind a silent output) names its root cause and
points there instead of offering a second fix. ``js/src/diagnose/causes.js`` ports the linking;
the table and the words reach it in the payload.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence

from .pathology import Pathology, Severity
from .routes import blocked_routes

CAUSES: dict[str, tuple[tuple[str, str], ...]] = {
    # effect: (cause category, where: "same" layer, "through" (an earlier layer with only
    # gone layers between), "upstream" (the same or an earlier layer), "downstream" (the
    # same or a later layer: between it and the loss, on every route there where the
    # wiring is known), or "any" layer)
    "dead_neurons": (("eval_mode_shift", "upstream"), ("gradient_blocked", "same"),
                     ("voltage_runaway", "same"),
                     ("layer_died", "same"), ("rate_fades_with_depth", "upstream"),
                     ("silent_network", "same"), ("silent_network", "through")),
    "silent_network": (("eval_mode_shift", "upstream"), ("gradient_blocked", "same"),
                       ("voltage_runaway", "same"),
                       ("layer_died", "same"),
                       ("rate_fades_with_depth", "upstream"), ("silent_network", "through"),
                       ("dead_neurons", "through")),
    "layer_died": (("eval_mode_shift", "upstream"), ("layer_died", "through")),
    "rate_fades_with_depth": (("eval_mode_shift", "upstream"),),
    "saturated_neurons": (("eval_mode_shift", "upstream"), ("non_binary_spikes", "same")),
    "output_overflow": (("count_valued_input", "any"), ("non_binary_spikes", "any")),
    "gradient_vanishing": (("silent_network", "downstream"), ("layer_died", "downstream"),
                           ("dead_neurons", "downstream")),
    "loss_at_chance": (("eval_mode_shift", "any"), ("silent_network", "any"), ("layer_died", "any"),
                       ("output_overflow", "any"), ("dead_neurons", "any"),
                       ("saturated_neurons", "any")),
}
"""Which finding explains which: an effect names its cause and gives no second fix.
A layer whose spike function passes no gradient where it does not fire
(``gradient_blocked``) cannot learn to fire: its dead or silent neurons follow from it.
In the eval phase's report, a layer that fires far less there than in training
(``eval_mode_shift``) explains what goes dead, silent or saturated from it on.
A ``dead_neurons`` cause counts only when critical. "through" is the chain of layers
that carry no signal: a quiet layer silences the layers it feeds, and they the layers
they feed, but a layer fed by one that fires (a residual stream around the quiet
layer, a parallel branch) gets its input another way, so its silence needs a cause of
its own. Which layer feeds which is the layers' ``fed_by`` where known (``watch``
learns it from the autograd graph, the data among the feeds); else every layer between
the two in model order must be gone."""

GONE: tuple[str, ...] = ("silent_network", "layer_died")
"""Findings that mark a layer as passing no signal on (and critical ``dead_neurons``)."""

FOLLOWS = "Follows from {category} at '{layer}': fix that first"
"""The fix of a finding that follows from another (its root cause)."""


def link_causes(found: list[Pathology], order: dict[str, int],
                categories: tuple[str, ...],
                fed_by: Mapping[str, Sequence[str]] | None = None) -> list[Pathology]:
    """Mark each finding that another explains (``cause``: the root of the chain of
    causes, with a pointer to it as its fix) and
    order them: each root cause leads, what follows from it comes right after; groups
    by their most severe finding, then upstream first. ``order``: each layer's place in
    the model; ``categories``: the rule order (ties); ``fed_by``: the layers feeding
    each layer, where known."""
    def pos(p: Pathology) -> int:
        return order.get(p.layer, len(order))

    def key(p: Pathology) -> tuple[int, int, int]:
        return (p.severity.rank, pos(p), categories.index(p.category))

    gone = {p.layer for p in found if p.category in GONE
            or (p.category == "dead_neurons" and p.severity is Severity.CRITICAL)}
    ranked = sorted(order, key=order.__getitem__)
    rank = {layer: i for i, layer in enumerate(ranked)}
    # firing[i]: how many of the first i layers in model order pass signal on
    firing = list(itertools.accumulate((layer not in gone for layer in ranked), initial=0))

    wiring = dict(fed_by or {})
    silenced: dict[str, frozenset[str]] = {}

    def silenced_by(layer: str) -> frozenset[str]:
        """The gone layers that cut ``layer`` off: every layer before it that feeds it
        is gone (feeds from later layers are recurrent, and the data feed those
        layers; a feed that is not a recorded layer, such as the data, always carries
        signal), with those that cut them off in turn (only earlier layers: no loop)."""
        if layer not in silenced:
            feeds = [f for f in wiring[layer] if f not in order or order[f] < order[layer]]
            out = frozenset(feeds) if feeds and all(f in gone for f in feeds) else frozenset()
            for f in out & wiring.keys():
                out |= silenced_by(f)
            silenced[layer] = out
        return silenced[layer]

    def through(c: Pathology, p: Pathology) -> bool:
        """``c`` cuts ``p`` off: by the wiring where known, else ``c`` lies before ``p``
        with only gone layers between them."""
        if c.layer not in rank or pos(c) >= pos(p):
            return False
        if p.layer in wiring and p.layer in order:
            return c.layer in silenced_by(p.layer)
        return firing[rank.get(p.layer, len(rank))] == firing[rank[c.layer] + 1]

    routes: dict[str, frozenset[str] | None] = {}

    def downstream(c: Pathology, p: Pathology) -> bool:
        """``c`` lies between ``p`` and the loss: on every route from ``p`` to the
        outputs where the wiring is known (:mod:`.routes`), else at or after it."""
        if pos(c) < pos(p):
            return False
        if p.layer not in routes:
            routes[p.layer] = blocked_routes(p.layer, order, wiring, gone)
        on = routes[p.layer]
        return on is None or c.layer in on

    def cause_of(p: Pathology) -> Pathology | None:
        for category, where in CAUSES.get(p.category, ()):
            for c in sorted(found, key=key):
                if c is p or c.category != category or c.layer == "loss":
                    continue
                if category == "dead_neurons" and c.severity is not Severity.CRITICAL:
                    continue
                if ((where == "same" and c.layer == p.layer)
                        or (where == "through" and through(c, p))
                        or (where == "upstream" and pos(c) <= pos(p))
                        or (where == "downstream" and downstream(c, p))
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
