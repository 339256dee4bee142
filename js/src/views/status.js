// The words of the header's status line and of the epoch scrubber's label, and the
// header's view.

import { count } from "./dom.js";

/**
 * The header's status line. `pending`: a newer epoch that has begun but is not shown yet
 * (live mode); `live`: say so (never in an offline page).
 */
export function statusText({ epoch, live, pending = null, layers, findings }) {
  if (epoch === null) return "waiting for the first recorded step";
  const crit = findings.filter((p) => p.severity === "critical").length;
  const warn = findings.filter((p) => p.severity === "warning").length;
  const info = findings.length - crit - warn;
  const verdict = findings.length === 0 ? "no findings"
    : [crit ? `${crit} critical` : "", warn ? count(warn, "warning") : "",
      info ? `${info} info` : ""].filter(Boolean).join(", ");
  const head = live ? `live \u00B7 epoch ${epoch}` : `epoch ${epoch}`;
  const next = pending !== null ? ` (epoch ${pending} starting)` : "";
  return `${head}${next} \u00B7 ${count(layers, "layer")} \u00B7 ${verdict}`;
}

/** The label beside the epoch scrubber: "3 (4 of 4)", or "none recorded". */
export function epochLabel(epoch, epochs) {
  if (epoch === null) return "none recorded";
  return `${epoch} (${epochs.indexOf(epoch) + 1} of ${epochs.length})`;
}

/** The header's status line: update(frame) says what is shown. `offline`: a static page. */
export function createStatusView(el, { offline }) {
  return {
    update({ store, epoch, live, report }) {
      const newest = store.epochs.length ? store.epochs[store.epochs.length - 1] : null;
      el.textContent = statusText({ epoch, live: live && !offline,
        pending: live && newest !== epoch ? newest : null, layers: store.layers.length,
        findings: report.findings });
    },
    destroy() {},
  };
}
