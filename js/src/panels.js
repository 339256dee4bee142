// Filling the histogram and trend panels of the widget's DOM (layout.js) for one draw:
// what each canvas shows, its caption and its legend. Kept out of render() in widget.js.

import { clear } from "./dom.js";
import { drawHistogram, histogramOf } from "./histogram.js";
import { lineKey } from "./layout.js";
import { drawClassTrends, drawLoss } from "./trends.js";

/** The firing-rate histogram of layer view `lv` (undefined: not recorded this epoch). */
export function fillHistogram(d, store, lv, epoch, th, colours, width) {
  if (!lv) {
    const geo = drawHistogram(d.hist, histogramOf([]), th, colours, width, 200);
    d.histCaption.textContent = "This layer was not recorded in this epoch.";
    return geo;
  }
  const entry = store.chunks.get(epoch).layers[lv.index];
  if (!entry.hist) entry.hist = histogramOf(entry.rates);
  const input = lv.role === "input";
  const geo = drawHistogram(d.hist, entry.hist, th, colours, width, 200, { neutral: input });
  d.histLegend.hidden = input;
  d.histTitle.textContent = `Firing rates \u2014 ${lv.name}, epoch ${epoch}`;
  d.histCaption.textContent = input
    ? `${lv.n} input neurons (activity: no rule judges an input's health); log axis, ` +
      `${entry.hist.zeros} at rate 0`
    : `${lv.n} neurons: ${lv.deadCount} dead (rate < ${th.dead_rate}), ` +
      `${lv.satCount} saturated (rate > ${th.saturated_rate}); log axis, ` +
      `${entry.hist.zeros} at rate 0`;
  return geo;
}

/**
 * Trend lines and the loss, with their legends above them. With fewer than two epochs
 * there is no trend: the panel says so in one line instead of showing empty plots.
 */
export function fillTrends(d, store, trend, colours, width, epoch) {
  const few = trend.epochs.length < 2;
  d.trendNote.textContent = trend.epochs.length === 0 ? "Nothing recorded yet."
    : few ? `One epoch so far (epoch ${trend.epochs[0]}): trends start with the second.` : "";
  for (const el of [d.trend, d.trendLegend, d.loss, d.lossLegend]) el.hidden = few;
  if (few) return;
  const lines = drawClassTrends(d.trend, trend, colours, width, 130, epoch);
  clear(d.trendLegend);
  d.trendLegend.appendChild(lineKey("dead", colours.fg2));
  d.trendLegend.appendChild(lineKey("saturated", colours.fg2, true));
  for (const l of lines) d.trendLegend.appendChild(lineKey(l.name, l.colour));
  const hasLoss = drawLoss(d.loss, store.loss, colours, width, 110, epoch);
  d.loss.hidden = !hasLoss;
  d.lossLegend.hidden = !hasLoss;
  clear(d.lossLegend);
  if (hasLoss) {
    d.lossLegend.appendChild(lineKey("mean loss per epoch", colours.fg));
    if (store.loss.chance !== null) {
      d.lossLegend.appendChild(lineKey(`chance: ln ${store.loss.nClasses} = ` +
        `${store.loss.chance.toFixed(3)}`, colours.fg2, true));
    }
  }
}
