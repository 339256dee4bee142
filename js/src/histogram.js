// Firing-rate histogram of one layer on a log axis, with the dead and saturated cut-offs.
// Bins do not depend on the thresholds: a slider move only redraws the cut-off lines.

import { sizeCanvas, tick } from "./canvas.js";

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

/** Draw the histogram; returns the x position (CSS px) of each cut-off, for tests. */
export function drawHistogram(canvas, hist, th, colours, width, height) {
  const ctx = sizeCanvas(canvas, width, height);
  const pad = { l: 36, r: 8, t: 8, b: 22 };
  const zeroW = 18;
  const w = width - pad.l - pad.r - zeroW - 6;
  const h = height - pad.t - pad.b;
  ctx.fillStyle = colours.bg;
  ctx.fillRect(0, 0, width, height);
  const lo = hist.edges[0];
  const hi = hist.edges[hist.edges.length - 1];
  const x0 = pad.l + zeroW + 6;
  const xOf = (log) => x0 + ((log - lo) / (hi - lo)) * w;
  const max = Math.max(1, hist.zeros, ...hist.counts);
  const yOf = (c) => pad.t + h - (c / max) * h;
  const deadX = xOf(Math.log10(th.dead_rate));
  const satX = xOf(Math.log10(th.saturated_rate));
  // class regions, then bars
  ctx.globalAlpha = 0.12;
  ctx.fillStyle = colours.dead;
  ctx.fillRect(pad.l, pad.t, deadX - pad.l, h);
  ctx.fillStyle = colours.saturated;
  ctx.fillRect(satX, pad.t, x0 + w - satX, h);
  ctx.globalAlpha = 1;
  ctx.fillStyle = colours.dead;
  ctx.fillRect(pad.l, yOf(hist.zeros), zeroW, pad.t + h - yOf(hist.zeros));
  hist.counts.forEach((c, b) => {
    const xa = xOf(hist.edges[b]);
    const xb = xOf(hist.edges[b + 1]);
    const mid = 10 ** ((hist.edges[b] + hist.edges[b + 1]) / 2);
    ctx.fillStyle = mid < th.dead_rate ? colours.dead
      : mid > th.saturated_rate ? colours.saturated : colours.healthy;
    ctx.fillRect(xa + 0.5, yOf(c), Math.max(1, xb - xa - 1), pad.t + h - yOf(c));
  });
  // cut-offs
  ctx.lineWidth = 1.5;
  ctx.setLineDash([4, 3]);
  for (const [x, c] of [[deadX, colours.dead], [satX, colours.saturated]]) {
    ctx.strokeStyle = c;
    ctx.beginPath();
    ctx.moveTo(x, pad.t);
    ctx.lineTo(x, pad.t + h);
    ctx.stroke();
  }
  ctx.setLineDash([]);
  // axes
  ctx.fillStyle = colours.fg2;
  ctx.font = "10px sans-serif";
  ctx.textAlign = "center";
  ctx.fillText("0", pad.l + zeroW / 2, height - 8);
  for (let e = Math.ceil(lo); e <= hi; e++) {
    if (xOf(e) - pad.l - zeroW > 14) ctx.fillText(tick(10 ** e), xOf(e), height - 8);
  }
  ctx.textAlign = "right";
  ctx.fillText(String(max), pad.l - 4, pad.t + 8);
  ctx.fillText("0", pad.l - 4, pad.t + h);
  return { deadX, satX };
}
