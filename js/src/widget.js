// ProfilerWidget's front end in anywidget's lifecycle. Python sends statistics (traits
// _base and _update, binary arrays); everything a threshold changes is recomputed here,
// so slider moves never wait for the kernel. anywidget calls the module's default export
// once per model: initialize({model}) then creates that model's session (the store), and
// render({model, el}) draws each displayed view of it over that one session.

import { createController } from "./controller.js";
import { createSession } from "./session.js";

/** One model's widget: {initialize, render}, sharing the session between its views. */
export function createWidget() {
  let session = null;
  return {
    /** The model's session; returns the cleanup that ends it. */
    initialize({ model }) {
      session = createSession(model);
      return () => session.destroy();
    },
    /** Draw a view of the model into `el`; returns its cleanup. */
    render({ model, el }) {
      if (!session) throw new Error("spikewidget: render() before initialize()");
      return createController(el, model, session);
    },
  };
}
