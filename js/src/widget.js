// ProfilerWidget's front end in anywidget's lifecycle. Python sends statistics (traits
// _base and _update, binary arrays); everything a threshold changes is recomputed here,
// so slider moves never wait for the kernel. initialize({model}) runs once per model and
// creates its session (the store); render({model, el}) runs once per displayed view, and
// all views of one model share that session.

import { createController } from "./controller.js";
import { createSession } from "./session.js";

const sessions = new WeakMap(); // model -> its session

/** anywidget's initialize: the model's session; returns the cleanup that ends it. */
export function initialize({ model }) {
  const session = createSession(model);
  sessions.set(model, session);
  return () => {
    session.destroy();
    sessions.delete(model);
  };
}

/** anywidget's render: draw a view of `model` into `el`; returns its cleanup. */
export function render({ model, el }) {
  const session = sessions.get(model);
  if (!session) throw new Error("spikewidget: render() before initialize() for this model");
  return createController(el, model, session);
}
