"""Pictures and views: the palette, figures, the widget's payload, the widget and its static export."""
