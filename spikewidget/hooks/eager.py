"""Watch hooks under ``torch.compile``: they run as plain Python, outside the graph.

TorchDynamo traces a module's forward hooks into the graph it compiles. Traced,
spikewidget's recording code (NumPy reductions, Python state that changes every
call) would recompile at every step and hit Dynamo's recompile limit. So each
watch hook begins with ``if torch.compiler.is_compiling(): return eagerly(...)``
(a flag read, ~0.1 us, when not compiling): Dynamo ends the graph there, the hook
runs eagerly on the real tensors, and the next graph begins after it (a graph
break per watched layer call, the price of recording under ``torch.compile``).
``torch.compile(..., fullgraph=True)`` refuses graph breaks, so it cannot compile
a watched model: Dynamo raises "Attempted to call function marked as skipped",
naming ``_spikewidget_watch_hook__compile_without_fullgraph`` (what to do).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def _spikewidget_watch_hook__compile_without_fullgraph(fn: Callable[..., Any],
                                                       *args: Any) -> Any:
    """``fn(*args)``, never traced by Dynamo (imported lazily: importing Dynamo costs
    seconds, and only a model that is compiled needs it). Nothing when still compiling
    here, in plain Python (``torch.export``, ``make_fx``: tensors without values)."""
    if torch.compiler.is_compiling():
        return None
    return fn(*args)


eagerly = torch._disable_dynamo(_spikewidget_watch_hook__compile_without_fullgraph)
"""``eagerly(fn, *args)``: call ``fn(*args)`` as plain Python, even inside a graph that
Dynamo is tracing (a graph break)."""
