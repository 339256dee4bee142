"""What each layer is to the model (input, hidden, output), and which layers are
read as its output: the one place that decides it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .stats import LayerStats

ROLES = ("input", "hidden", "output")
"""The roles a layer can have."""

_INPUT_NAMES = frozenset({"input", "inputs", "in"})
_OUTPUT_NAMES = frozenset({"output", "outputs", "out", "readout"})


def infer_role(name: str) -> str:
    """``input``/``output`` for the usual names of those layers, else ``hidden``."""
    last = name.lower().rsplit(".", 1)[-1]
    if last in _INPUT_NAMES:
        return "input"
    if last in _OUTPUT_NAMES:
        return "output"
    return "hidden"


def resolve_role(name: str, decl: Mapping[str, Any]) -> str:
    """A layer's role: as declared, else as :func:`watch` saw the model use it
    (``"watch_role"``), else from its name."""
    return decl.get("role") or decl.get("watch_role") or infer_role(name)


def role_known(decl: Mapping[str, Any]) -> bool:
    """Whether the layer's role was declared or seen by :func:`watch` (not guessed)."""
    return "role" in decl or "watch_role" in decl


def output_names(roles: list[tuple[str, str, bool]]) -> set[str]:
    """The layers whose spikes are the model's output, from ``(name, role, known)``
    in recording order (``known``: declared, or seen by :func:`watch`).

    Layers whose role is ``output``; if there are none, the last non-input layer,
    unless its role is known (a hidden layer in front of a non-spiking readout:
    then no layer is read as the output).
    """
    chosen = {name for name, role, _ in roles if role == "output"}
    if chosen:
        return chosen
    candidates = [(name, known) for name, role, known in roles if role != "input"]
    if candidates and not candidates[-1][1]:
        return {candidates[-1][0]}
    return set()


def output_layers(layers: list[LayerStats]) -> list[LayerStats]:
    """The layers of a report read as the model's output (their role was resolved by
    :func:`output_names` when the report was made)."""
    return [s for s in layers if s.role == "output"]
