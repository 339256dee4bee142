"""Every rule constant in one value: :class:`Thresholds`.

The defaults are the published tutorial's rule table plus the rules learnt from the
debugging story. The field metadata (label, unit, slider range) is the single source
the README's table, the widget's sliders and the shared test vectors are made from.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.errors import InvalidInputError, InvalidTypeError


def _spec(default: float, label: str, lo: float, hi: float, *, plain: str, rule: str,
          log: bool = False, integer: bool = False) -> Any:
    """A constant's field: ``label`` in the rule's terms, ``plain`` in everyday words (the
    slider's label), ``rule`` the rule(s) it tunes (the slider's tooltip), its range."""
    return field(default=default, metadata={
        "label": label, "min": lo, "max": hi, "log": log, "integer": integer,
        "plain": plain, "rule": rule})


ORDER: tuple[tuple[str, str, bool], ...] = (
    ("dead_warning_fraction", "dead_critical_fraction", False),
    ("output_count_warning", "output_count_critical", False),
    ("dead_rate", "saturated_rate", True),
)
"""(low, high, strict): constants that must stay in order (sliders keep them too)."""


@dataclass(frozen=True)
class Thresholds:
    """Rule constants. Rates are spikes per observation (per time step per sample)."""

    dead_rate: float = _spec(
        0.01, "dead: firing rate below", 1e-5, 0.5, log=True,
        plain="A neuron is dead if it fires less often than", rule="dead_neurons")
    dead_warning_fraction: float = _spec(
        0.10, "dead: warning above fraction", 0.0, 1.0,
        plain="Warn when this share of a layer is dead", rule="dead_neurons")
    dead_critical_fraction: float = _spec(
        0.50, "dead: critical above fraction", 0.0, 1.0,
        plain="Critical when this share of a layer is dead", rule="dead_neurons, layer_died")
    saturated_rate: float = _spec(
        0.95, "saturated: firing rate above", 0.05, 1.0,
        plain="A neuron is saturated if it fires more often than (graded spikes, if "
              "its mean output per step is above this share of its ceiling)",
        rule="saturated_neurons")
    saturated_warning_fraction: float = _spec(
        0.30, "saturated: warning above fraction", 0.0, 1.0,
        plain="Warn when this share of a layer is saturated", rule="saturated_neurons")
    silent_max_rate: float = _spec(
        0.001, "silent: max rate below", 1e-6, 0.1, log=True,
        plain="A layer is silent if even its busiest neuron fires less than",
        rule="silent_network")
    voltage_collapse_std: float = _spec(
        1e-6, "voltage collapse: std below", 1e-12, 1e-1, log=True,
        plain="A voltage is frozen if it varies less than (std)", rule="voltage_collapse")
    voltage_collapse_min_steps: int = _spec(
        10, "voltage collapse: after steps", 1, 1000, integer=True,
        plain="Judge frozen voltages after this many steps", rule="voltage_collapse")
    gradient_explosion_ratio: float = _spec(
        100.0, "explosion: norm / early median above", 2.0, 1e6, log=True,
        plain="Gradients explode when they grow more than this many times",
        rule="gradient_explosion")
    gradient_vanishing_ratio: float = _spec(
        100.0, "vanishing: last/first RMS above", 2.0, 1e6, log=True,
        plain="Gradients vanish when they shrink this many times toward the input",
        rule="gradient_vanishing")
    output_count_warning: float = _spec(
        50.0, "overflow: warning above count", 1.0, 1e4, log=True,
        plain="Warn when an output neuron spikes more than this per sample",
        rule="output_overflow")
    output_count_critical: float = _spec(
        88.0, "overflow: critical above count", 1.0, 1e5, log=True,
        plain="Critical when an output neuron spikes more than this per sample",
        rule="output_overflow")
    loss_chance_tolerance: float = _spec(
        0.05, "chance loss: within fraction of ln C", 0.001, 0.5, log=True,
        plain="The loss is at chance (guessing) when this close to ln C, as a share",
        rule="loss_at_chance")
    loss_chance_window: int = _spec(
        20, "chance loss: last N records", 2, 1000, integer=True,
        plain="Judge guessing over this many recent losses", rule="loss_at_chance")
    voltage_collapse_fraction: float = _spec(
        0.5, "voltage collapse: frozen share from", 0.01, 1.0,
        plain="Warn when this share of a layer's voltages is frozen", rule="voltage_collapse")
    depth_fade_ratio: float = _spec(
        10.0, "depth fade: first / last layer rate above", 2.0, 1e6, log=True,
        plain="Spikes fade with depth when the first layer of a falling run fires this many "
              "times more than its last", rule="rate_fades_with_depth")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, (int, float, np.integer, np.floating)):
                raise InvalidTypeError(
                    f"Thresholds.{f.name} must be a number, got {type(value).__name__}")
            if not math.isfinite(value) or value < 0:
                raise InvalidInputError(
                    f"Thresholds.{f.name} must be a finite number >= 0, got {value!r}")
            if f.metadata["integer"]:
                if value != int(value) or value < 1:
                    raise InvalidInputError(
                        f"Thresholds.{f.name} must be a whole number >= 1, got {value!r}")
                object.__setattr__(self, f.name, int(value))
            else:
                object.__setattr__(self, f.name, float(value))
        for name in ("dead_warning_fraction", "dead_critical_fraction",
                     "saturated_warning_fraction", "voltage_collapse_fraction"):
            if getattr(self, name) > 1:
                raise InvalidInputError(
                    f"Thresholds.{name} is a fraction of neurons in [0, 1], "
                    f"got {getattr(self, name)!r}")
        for low, high, strict in ORDER:
            self._ordered(low, high, strict=strict)

    def _ordered(self, low: str, high: str, *, strict: bool = False) -> None:
        a, b = getattr(self, low), getattr(self, high)
        if a > b or (strict and a == b):
            raise InvalidInputError(
                f"Thresholds.{low} ({a!r}) must be {'below' if strict else 'at most'} "
                f"Thresholds.{high} ({b!r})")

    def replace(self, **changes: float) -> Thresholds:
        """A copy with some constants changed (validated like the constructor)."""
        return Thresholds.from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Thresholds:
        """Build from a mapping; unknown names are an error, missing ones take defaults."""
        known = {f.name for f in dataclasses.fields(cls)}
        odd = [k for k in values if not isinstance(k, str)]
        if odd:
            raise InvalidTypeError(f"threshold names must be strings, got {odd!r}; expected "
                                   f"some of {sorted(known)}")
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidInputError(
                f"unknown threshold name(s) {unknown}; expected some of {sorted(known)}")
        return cls(**dict(values))

    @classmethod
    def coerce(cls, value: Thresholds | Mapping[str, Any] | None,
               base: Thresholds) -> Thresholds:
        """Accept a Thresholds, a mapping of overrides applied to ``base``, or None."""
        if value is None:
            return base
        if isinstance(value, Thresholds):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict({**base.to_dict(), **value})
        raise InvalidTypeError(
            f"thresholds must be a Thresholds or a mapping of names to numbers, "
            f"got {type(value).__name__}")

    @classmethod
    def slider_specs(cls) -> list[dict[str, Any]]:
        """Name, label, plain label, rule, default and range of every constant, for
        sliders and docs."""
        return [{"name": f.name, "default": f.default, **f.metadata}
                for f in dataclasses.fields(cls)]
