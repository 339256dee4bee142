// One model's data, shared by all its views (anywidget's initialize creates it): the
// store fed by the _base and _update traits, a resync request when an update was missed,
// and a call to every subscribed view after each change.

import { checkEvaluators } from "./diagnose/rules.js";
import { applyMessage, createStore } from "./model/store.js";

const TRAITS = ["_base", "_update"]; // the traits that carry messages, in order
const RESYNC_MS = 1000; // at most one resync request per second

/**
 * The session of `model`: {store, subscribe(fn) -> unsubscribe, destroy()}. A base message
 * whose rules the browser cannot evaluate throws here, at load.
 */
export function createSession(model) {
  const store = createStore();
  const views = new Set();
  let lastResync = -Infinity;
  const ingest = (msg) => {
    if (msg && msg.base) checkEvaluators(msg.meta.rules); // no evaluator: fail loudly
    if (applyMessage(store, msg) === "gap" && performance.now() - lastResync > RESYNC_MS) {
      lastResync = performance.now();
      model.send({ type: "resync", seq: store.seq });
    }
  };
  for (const name of TRAITS) ingest(model.get(name));
  const listeners = TRAITS.map((name) => [`change:${name}`, () => {
    ingest(model.get(name));
    for (const fn of views) fn();
  }]);
  for (const [ev, fn] of listeners) model.on(ev, fn);
  return {
    store,
    subscribe(fn) {
      views.add(fn);
      return () => views.delete(fn);
    },
    destroy() {
      for (const [ev, fn] of listeners) model.off(ev, fn);
      views.clear();
    },
  };
}
