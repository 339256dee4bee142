"""Pictures and views: the palette, figures, the widget's payload, the widget and its
static export.
"""

from . import plot, sweep_view  # noqa: F401  (they register the results' drawers)
