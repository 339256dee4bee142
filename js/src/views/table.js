// The pathology table: severity as a coloured badge *and* a word, then what, where,
// the message, the fix, and when it first appeared. All user text goes in as text. A
// finding caused by another comes right after it, marked with an arrow.

import { clear, h } from "./dom.js";

const ICON = { critical: "\u25CF", warning: "\u25B2", info: "\u2139" };
export const COLUMNS = ["Severity", "Pathology", "Layer", "Message", "Fix", "Where"];

function since(p, first) {
  if (p.where) return p.where; // set by its source (a sweep's prediction: batch, threshold)
  if (p.step !== null && p.step !== undefined) return `epoch ${p.epoch}, step ${p.step}`;
  if (first !== undefined && first !== null && first !== p.epoch) return `since epoch ${first}`;
  return p.epoch === null || p.epoch === undefined ? "" : `epoch ${p.epoch}`;
}

// a narrow widget shows each row as a card; these cells then carry their column's name
function labelled(td, col) {
  if (td.textContent) td.dataset.col = col;
  return td;
}

/** Re-draw the table of `findings` (first[i]: epoch finding i first appeared;
 * `recorded`: false before any data, which is not the same as "no pathologies"). */
export function renderTable(el, findings, first = [], recorded = true) {
  clear(el);
  if (!recorded) {
    el.appendChild(h("div", "sw-empty", "Nothing has been recorded yet."));
    return;
  }
  if (findings.length === 0) {
    el.appendChild(h("div", "sw-ok", "\u2713 No pathologies detected at these thresholds."));
    return;
  }
  const head = h("tr");
  for (const c of COLUMNS) head.appendChild(h("th", null, c));
  const body = h("tbody");
  findings.forEach((p, i) => {
    const sev = h("span", `sw-badge sw-${p.severity}`, `${ICON[p.severity] || ""} ${p.severity.toUpperCase()}`);
    // a finding that follows from another sits under it, marked as its consequence
    const cat = p.cause ? `\u21B3 ${p.category}` : p.category;
    const tr = h("tr", `sw-row-${p.severity}${p.cause ? " sw-effect" : ""}`, null,
      h("td", null, null, sev),
      h("td", "sw-cat", cat),
      h("td", "sw-layer", p.layer),
      h("td", "sw-msg", p.message),
      labelled(h("td", "sw-fix", p.fix), "Fix"),
      labelled(h("td", "sw-since", since(p, first[i])), "Where"));
    tr.dataset.severity = p.severity;
    body.appendChild(tr);
  });
  el.appendChild(h("table", "sw-table", null, h("thead", null, null, head), body));
}

/** The pathology table: update(frame) lists the shown epoch's findings. */
export function createTableView(el) {
  return {
    update: ({ report, first, epoch }) => renderTable(el, report.findings, first, epoch !== null),
    destroy() {},
  };
}
