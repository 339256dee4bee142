// The threshold panel: the rule sliders (sliders.js), their "changed" summary and the reset
// button. A move re-diagnoses this view at once; a release or a reset commits the values
// to the model (Python's widget.thresholds), and a change from Python moves the sliders.

import { renderSliders } from "./sliders.js";

const SUMMARY = "Thresholds (re-diagnose in the browser)";

/**
 * Wire the panel of `d` (layout.js elements). onInput() redraws this view after a move.
 * Returns {values() (the thresholds on screen), destroy()}.
 */
export function createThresholds(d, { model, store, onInput, schedule }) {
  const specs = store.meta ? store.meta.sliders : [];
  const defaults = () => Object.fromEntries(specs.map((s) => [s.name, s.default]));
  let th = { ...model.get("threshold_values") };
  const commit = (values) => {
    model.set("threshold_values", { ...values });
    model.save_changes();
  };
  const sliders = renderSliders(d.sliders, specs, store.meta ? store.meta.order : [],
    { ...defaults(), ...th }, {
      onInput(values) {
        th = values;
        onInput();
      },
      onCommit: commit,
      onMarks(n) {
        d.thresholdsSummary.textContent = SUMMARY + (n ? ` \u00B7 ${n} changed from default` : "");
      },
    });
  const onReset = () => {
    th = defaults();
    sliders.set(th);
    commit(th);
    onInput();
  };
  const onModel = () => {
    th = { ...th, ...model.get("threshold_values") };
    sliders.set(th);
    schedule();
  };
  d.defaults.addEventListener("click", onReset);
  model.on("change:threshold_values", onModel);
  return {
    values: () => th,
    destroy() {
      d.defaults.removeEventListener("click", onReset);
      model.off("change:threshold_values", onModel);
    },
  };
}
