// The anywidget module: esbuild bundles this into spikewidget/static/widget.js.
import { render } from "./widget.js";

export default { render };
