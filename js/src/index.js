// The anywidget module: esbuild bundles this into spikewidget/static/widget.js. The default
// export is a function, so anywidget makes one widget (and one session) per model.
import { createWidget } from "./widget.js";

export default createWidget;
