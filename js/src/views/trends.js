// Trends over epochs: dead (solid) and saturated (dashed) fractions per layer, in the
// palette's layer colours (never class colours), and the loss per epoch with the ln C
// chance line. Legends are HTML above the plots (the panel's view), never over lines.

import { sizeCanvas, tick } from "./canvas.js";
import { clear, contentWidth } from "./dom.js";
import { lineKey } from "./legend.js";

function frame(ctx, colours, width, height, pad) {
  ctx.fillStyle = colours.bg;
  ctx.fillRect(0, 0, width, height);
  ctx.strokeStyle = colours.grid;
  ctx.lineWidth = 1;
  ctx.strokeRect(pad.l, pad.t, width - pad.l - pad.r, height - pad.t - pad.b);
  ctx.fillStyle = colours.fg2;
  ctx.font = "10px sans-serif";
}

function line(ctx, xs, ys, xOf, yOf) {
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (!Number.isFinite(y)) {
      pen = false;
      continue;
    }
    const [px, py] = [xOf(xs[i]), yOf(y)];
    if (pen) ctx.lineTo(px, py);
    else ctx.moveTo(px, py);
    pen = true;
    if (xs.length === 1 || !Number.isFinite(ys[i - 1]) && !Number.isFinite(ys[i + 1])) {
      ctx.fillRect(px - 2, py - 2, 4, 4);
    }
  }
  ctx.stroke();
}

function xAxis(ctx, epochs, colours, width, height, pad, current) {
  const lo = epochs[0];
  const hi = epochs[epochs.length - 1];
  const w = width - pad.l - pad.r;
  const xOf = (e) => pad.l + (hi === lo ? w / 2 : ((e - lo) / (hi - lo)) * w);
  ctx.fillStyle = colours.fg2;
  ctx.textAlign = "left";
  const step = Math.max(1, Math.ceil(epochs.length / 8));
  let right = -Infinity;
  epochs.forEach((e, i) => {
    if (i % step !== 0 && i !== epochs.length - 1) return;
    const text = String(e);
    const tw = ctx.measureText(text).width;
    const left = Math.min(width - tw - 1, Math.max(0, xOf(e) - tw / 2));
    if (left < right + 4) return;
    ctx.fillText(text, left, height - 6);
    right = left + tw;
  });
  if (current !== null) {
    ctx.strokeStyle = colours.fg2;
    ctx.setLineDash([2, 2]);
    ctx.beginPath();
    ctx.moveTo(xOf(current), pad.t);
    ctx.lineTo(xOf(current), height - pad.b);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  return xOf;
}

function yTicks(ctx, values, yOf, pad, text = tick) {
  ctx.textAlign = "right";
  for (const v of values) ctx.fillText(text(v), pad.l - 4, yOf(v) + 3.5);
}

/** The layers that get a trend line (not input layers: they have no health), with colours. */
export function trendLines(trend, colours) {
  return trend.series.filter((s) => s.role !== "input" && s.dead.some(Number.isFinite))
    .map((s, i) => ({ series: s, name: s.name, colour: colours.layers[i % colours.layers.length] }));
}

/** Dead/saturated fraction lines of every layer (trend from report.js trends()). */
export function drawClassTrends(canvas, trend, colours, width, height, current) {
  const ctx = sizeCanvas(canvas, width, height);
  const pad = { l: 34, r: 8, t: 6, b: 18 };
  frame(ctx, colours, width, height, pad);
  const lines = trendLines(trend, colours);
  if (trend.epochs.length === 0) return lines;
  const xOf = xAxis(ctx, trend.epochs, colours, width, height, pad, current);
  const h = height - pad.t - pad.b;
  const yOf = (v) => pad.t + h - v * h;
  ctx.fillStyle = colours.fg2;
  yTicks(ctx, [0, 0.5, 1], yOf, pad, (v) => `${v * 100}%`);
  ctx.lineWidth = 1.5;
  for (const { series, colour } of lines) {
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    line(ctx, trend.epochs, series.dead, xOf, yOf);
    ctx.setLineDash([5, 3]);
    line(ctx, trend.epochs, series.sat, xOf, yOf);
    ctx.setLineDash([]);
  }
  return lines;
}

/** Mean loss per epoch and the ln C chance line; returns false when no loss exists. */
export function drawLoss(canvas, loss, colours, width, height, current) {
  if (!loss || loss.epochs.length === 0) return false;
  const ctx = sizeCanvas(canvas, width, height);
  const pad = { l: 34, r: 8, t: 6, b: 18 };
  frame(ctx, colours, width, height, pad);
  const epochs = Array.from(loss.epochs);
  const xOf = xAxis(ctx, epochs, colours, width, height, pad, current);
  const vals = Array.from(loss.means).filter(Number.isFinite);
  if (loss.chance !== null) vals.push(loss.chance);
  let lo = Math.min(...vals, 0);
  let hi = Math.max(...vals, 1e-9);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  hi += (hi - lo) * 0.1;
  const h = height - pad.t - pad.b;
  const yOf = (v) => pad.t + h - ((v - lo) / (hi - lo)) * h;
  ctx.fillStyle = colours.fg2;
  yTicks(ctx, [lo, (lo + hi) / 2, hi], yOf, pad);
  if (loss.chance !== null) {
    ctx.strokeStyle = colours.fg2;
    ctx.lineWidth = 1;
    ctx.setLineDash([6, 3]);
    ctx.beginPath();
    ctx.moveTo(pad.l, yOf(loss.chance));
    ctx.lineTo(width - pad.r, yOf(loss.chance));
    ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.strokeStyle = colours.fg;
  ctx.fillStyle = colours.fg;
  ctx.lineWidth = 1.5;
  line(ctx, epochs, loss.means, xOf, yOf);
  return true;
}

/**
 * The trends panel (d: layout.js elements): trend lines and the loss, their legends above
 * them. With fewer than two epochs there is no trend: the panel says so in one line
 * instead of showing empty plots.
 */
export function createTrendsView(d) {
  const show = ({ store, trend, colours, epoch }, width) => {
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
  };
  return {
    update(frame) {
      const width = contentWidth(d.trendPanel);
      if (width) show(frame, width);
    },
    destroy() {},
  };
}
