// The anywidget module: esbuild bundles this into spikewidget/static/widget.js.
import { initialize, render } from "./widget.js";

export default { initialize, render };
