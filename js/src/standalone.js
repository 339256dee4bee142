// The static page's entry (spikewidget/static/standalone.js, an IIFE: window.SpikeWidget):
// the same lifecycle (initialize, then render) over a model that lives in the page, with
// no kernel behind it.
import { createWidget } from "./widget.js";

/** A model with anywidget's interface over a plain object; send() goes nowhere. */
export function localModel(state) {
  const values = { ...state };
  const listeners = new Map();
  return {
    get: (name) => values[name],
    set(name, value) {
      values[name] = value;
      for (const fn of listeners.get(`change:${name}`) || []) fn();
    },
    save_changes() {},
    send() {},
    on(ev, fn) {
      if (!listeners.has(ev)) listeners.set(ev, new Set());
      listeners.get(ev).add(fn);
    },
    off(ev, fn) {
      if (listeners.has(ev)) listeners.get(ev).delete(fn);
    },
  };
}

/** Render a widget state (as written by spikewidget/export.py) into element `el`. The
 * page is offline: it never says "live" nor offers to follow the newest epoch. */
export function mount(el, state) {
  const model = localModel({ ...state, _offline: true });
  const widget = createWidget();
  const end = widget.initialize({ model });
  const remove = widget.render({ model, el });
  const cleanup = () => {
    remove();
    end();
  };
  return { model, cleanup };
}
