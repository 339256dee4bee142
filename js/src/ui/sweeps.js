// The threshold sweeps: one panel per sweep (sweeppanel.js), each with its neuron-threshold
// slider and the prediction there. The chosen grid point is the model's sweep_thresholds
// (shared with Python); a new _sweeps message rebuilds the panels.

import { acceptsThreshold, decodeSweep, nearestIndex, predict } from "../diagnose/sweep.js";
import { clear } from "../views/dom.js";
import { createSweepPanel } from "../views/sweeppanel.js";

/**
 * The sweeps of `model` in `el`. update(frame) redraws every panel under the frame's
 * thresholds; destroy() stops listening to the model.
 */
export function createSweepsView(el, { model, stats, schedule }) {
  let sweeps = []; // [{sweep, panel}]
  let shown = null; // the frame drawn last
  const chosenIndex = (sweep) => {
    const chosen = (model.get("sweep_thresholds") || {})[sweep.key];
    if (acceptsThreshold(chosen, sweep.scale)) return nearestIndex(sweep.grid, chosen, sweep.scale);
    return sweep.bestIndex !== null ? sweep.bestIndex
      : nearestIndex(sweep.grid, sweep.original, sweep.scale);
  };
  const draw = (entry) => {
    if (!shown) return;
    const { store, li, th, colours, report } = shown;
    const t0 = performance.now();
    const name = li >= 0 ? store.layers[li].name : null;
    entry.panel.render(predict(entry.sweep, entry.panel.index, th), colours, name, th, report);
    stats.lastSweepMs = performance.now() - t0;
  };
  const load = () => {
    clear(el);
    sweeps = (model.get("_sweeps") || []).map((msg) => {
      const sweep = decodeSweep(msg);
      const entry = { sweep };
      entry.panel = createSweepPanel(sweep, chosenIndex(sweep), {
        onInput() { draw(entry); },
        onCommit(i) {
          model.set("sweep_thresholds", { ...(model.get("sweep_thresholds") || {}),
            [sweep.key]: sweep.grid[i] });
          model.save_changes();
        },
      });
      el.appendChild(entry.panel.el);
      return entry;
    });
  };
  const onSweeps = () => { load(); schedule(); };
  const onChosen = () => {
    for (const entry of sweeps) {
      const i = chosenIndex(entry.sweep);
      if (i !== entry.panel.index) {
        entry.panel.set(i);
        draw(entry);
      }
    }
  };
  load();
  model.on("change:_sweeps", onSweeps);
  model.on("change:sweep_thresholds", onChosen);
  return {
    update(frame) {
      shown = frame;
      for (const entry of sweeps) draw(entry);
    },
    destroy() {
      model.off("change:_sweeps", onSweeps);
      model.off("change:sweep_thresholds", onChosen);
    },
  };
}
