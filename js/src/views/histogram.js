// Firing-rate histogram of one layer on a log axis, with the dead and saturated cut-offs,
// and the panel that shows the chosen layer's with its title and caption.
// Bins do not depend on the thresholds: a slider move only redraws the cut-off lines.

import { sizeCanvas, tick } from "./canvas.js";
import { contentWidth } from "./dom.js";

export const LOG_MIN = -5; // 1e-5 spikes per step: the dead-rate slider's lower end

/**
 * Bin rates: {zeros, nan, edges (log10, length bins+1), counts}. Rate 0 has its own bar
 * (often most of a dead layer); positive rates below 1e-5 go to the first bin.
 */
export function histogramOf(rates, bins = 40) {
  let top = 0;
  for (const r of rates) if (r > top) top = r;
  const hi = Math.max(0, Math.ceil(Math.log10(Math.max(top, 1)) * 10) / 10);
  const edges = new Float64Array(bins + 1);
  for (let b = 0; b <= bins; b++) edges[b] = LOG_MIN + ((hi - LOG_MIN) * b) / bins;
  const counts = new Uint32Array(bins);
  let zeros = 0;
  let nan = 0;
  const scale = bins / (hi - LOG_MIN);
  for (const r of rates) {
    if (r !== r) nan++;
    else if (r <= 0) zeros++;
    else {
      const b = Math.floor((Math.log10(r) - LOG_MIN) * scale);
      counts[Math.min(bins - 1, Math.max(0, b))]++;
    }
  }
  return { zeros, nan, edges, counts };
}

/** Round tick values 0..max (about `n` of them, steps of 1, 2 or 5 x 10^k, integers). */
export function niceTicks(max, n = 4) {
  if (!(max > 0)) return [0];
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw));
  const out = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(v);
  return out;
}

/**
 * Draw the histogram. `neutral` (an input layer: activity, no health) draws every bar in
 * the foreground colour with no class regions. Returns the layout, for tests: the cut-off
 * positions {deadX, satX}, the y ticks and the x labels' extents (CSS px).
 */
export function drawHistogram(canvas, hist, th, colours, width, height,
  { neutral = false, analog = false } = {}) {
  const ctx = sizeCanvas(canvas, width, height);
  ctx.font = "10px sans-serif";
  const max0 = Math.max(1, hist.zeros, ...hist.counts);
  const yTicks = niceTicks(max0);
  const max = Math.max(max0, yTicks[yTicks.length - 1]);
  const yW = Math.max(...yTicks.map((v) => ctx.measureText(String(v)).width));
  const lastLabel = tick(10 ** hist.edges[hist.edges.length - 1]);
  const pad = { l: Math.ceil(yW) + 8, r: Math.ceil(ctx.measureText(lastLabel).width / 2) + 3,
    t: 8, b: 22 };
  const zeroW = 18;
  const w = width - pad.l - pad.r - zeroW - 6;
  const h = height - pad.t - pad.b;
  ctx.fillStyle = colours.bg;
  ctx.fillRect(0, 0, width, height);
  const lo = hist.edges[0];
  const hi = hist.edges[hist.edges.length - 1];
  const x0 = pad.l + zeroW + 6;
  const xOf = (log) => x0 + ((log - lo) / (hi - lo)) * w;
  const yOf = (c) => pad.t + h - (c / max) * h;
  const deadX = xOf(Math.log10(th.dead_rate));
  const satX = xOf(Math.log10(th.saturated_rate));
  // y grid
  ctx.strokeStyle = colours.grid;
  ctx.lineWidth = 1;
  for (const v of yTicks) {
    const y = Math.round(yOf(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(pad.l, y);
    ctx.lineTo(x0 + w, y);
    ctx.stroke();
  }
  // class regions, then bars
  if (!neutral) {
    ctx.globalAlpha = 0.12;
    ctx.fillStyle = colours.dead;
    ctx.fillRect(pad.l, pad.t, deadX - pad.l, h);
    if (!analog) {
      ctx.fillStyle = colours.saturated;
      ctx.fillRect(satX, pad.t, x0 + w - satX, h);
    }
    ctx.globalAlpha = 1;
  }
  const barColour = (mid) => (neutral ? colours.fg2 : mid < th.dead_rate ? colours.dead
    : !analog && mid > th.saturated_rate ? colours.saturated : colours.healthy);
  ctx.fillStyle = barColour(0);
  ctx.fillRect(pad.l, yOf(hist.zeros), zeroW, pad.t + h - yOf(hist.zeros));
  hist.counts.forEach((c, b) => {
    const xa = xOf(hist.edges[b]);
    const xb = xOf(hist.edges[b + 1]);
    ctx.fillStyle = barColour(10 ** ((hist.edges[b] + hist.edges[b + 1]) / 2));
    ctx.fillRect(xa + 0.5, yOf(c), Math.max(1, xb - xa - 1), pad.t + h - yOf(c));
  });
  // cut-offs
  if (!neutral) {
    ctx.lineWidth = 1.5;
    ctx.setLineDash([4, 3]);
    const cuts = analog ? [[deadX, colours.dead]]
      : [[deadX, colours.dead], [satX, colours.saturated]];
    for (const [x, c] of cuts) {
      ctx.strokeStyle = c;
      ctx.beginPath();
      ctx.moveTo(x, pad.t);
      ctx.lineTo(x, pad.t + h);
      ctx.stroke();
    }
    ctx.setLineDash([]);
  }
  // axes: x labels kept inside the canvas, y ticks at round counts
  ctx.fillStyle = colours.fg2;
  ctx.textAlign = "left";
  const xLabels = [];
  const put = (text, mid) => {
    const tw = ctx.measureText(text).width;
    const left = Math.min(width - tw - 1, Math.max(0, mid - tw / 2));
    const prev = xLabels[xLabels.length - 1];
    if (prev && left < prev.right + 4) return;
    ctx.fillText(text, left, height - 8);
    xLabels.push({ text, left, right: left + tw });
  };
  put("0", pad.l + zeroW / 2);
  for (let e = Math.ceil(lo); e <= hi + 1e-9; e++) put(tick(10 ** e), xOf(e));
  ctx.textAlign = "right";
  for (const v of yTicks) ctx.fillText(String(v), pad.l - 4, Math.min(pad.t + h, yOf(v) + 3.5));
  return { deadX, satX, yTicks, xLabels, width, height };
}

/**
 * The histogram panel of the shown layer (d: layout.js elements). update(frame) draws
 * it; the layout goes to stats.hist (for tests).
 */
export function createHistogramView(d, { stats }) {
  const show = ({ store, report, li, epoch, th, colours }, width) => {
    const lv = report.layers.find((l) => l.index === li);
    if (!lv) { // not recorded this epoch
      const geo = drawHistogram(d.hist, histogramOf([]), th, colours, width, 200);
      d.histCaption.textContent = "This layer was not recorded in this epoch.";
      return geo;
    }
    const entry = store.chunks.get(epoch).layers[lv.index];
    if (!entry.hist) entry.hist = histogramOf(entry.rates);
    const input = lv.role === "input";
    const analog = lv.graded === "analog";
    // a graded layer's saturation is its output against its ceiling, not its rate
    const geo = drawHistogram(d.hist, entry.hist, th, colours, width, 200,
      { neutral: input, analog: analog || Boolean(lv.graded) });
    const graded = lv.graded === true;
    const gradedSat = Number.isFinite(lv.ceiling)
      ? `${lv.satCount} saturated (mean output per step > ${th.saturated_rate} of the ` +
        `ceiling ${lv.ceiling})`
      : "saturation not judged (ceiling unknown)";
    d.histLegend.hidden = input;
    d.histTitle.textContent = `Firing rates \u2014 ${lv.name}, epoch ${epoch}`;
    d.histCaption.textContent = input
      ? `${lv.n} input neurons (activity: no rule judges an input's health); log axis, ` +
        `${entry.hist.zeros} at rate 0`
      : analog
        ? `${lv.n} neurons of analog output (rate: share of steps non-zero): ` +
          `${lv.deadCount} dead (rate < ${th.dead_rate}), never saturated; log axis, ` +
          `${entry.hist.zeros} at rate 0`
        : graded
          ? `${lv.n} neurons of graded spikes (rate: share of steps non-zero): ` +
            `${lv.deadCount} dead (rate < ${th.dead_rate}), ${gradedSat}; log axis, ` +
            `${entry.hist.zeros} at rate 0`
          : `${lv.n} neurons: ${lv.deadCount} dead (rate < ${th.dead_rate}), ` +
            `${lv.satCount} saturated (rate > ${th.saturated_rate}); log axis, ` +
            `${entry.hist.zeros} at rate 0`;
    return geo;
  };
  return {
    update(frame) {
      const width = contentWidth(d.histPanel);
      if (width) stats.hist = show(frame, width);
    },
    destroy() {},
  };
}
