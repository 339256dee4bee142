// Spike raster: time (x) by neuron (y) from the packed frames the profiler keeps (of at
// most raster_neurons neurons per layer: an evenly spaced sample of bigger ones).
// Any size draws in one pass: frames and neurons are binned into at most one cell per
// pixel (density mode), a whole number of frames per cell, and few frames are drawn at
// their true width (at most MAX_CELL_PX each), never stretched to fill the plot; so
// 10,000 neurons x 10,000 frames cost one walk over the set bits.
import { rasterView } from "../model/frames.js";
import { count } from "./dom.js";

/**
 * Bin the selected frames into a grid of at most maxCols x maxRows cells, each cell a
 * whole number of frames (and of neurons): the same for every cell but the last, so
 * "k frames per pixel" is true of every column.
 * Returns {cols, rows, perCol, perRow, counts (Uint32Array rows*cols, row-major),
 * cellSize, spikes}: counts[r * cols + c] is the number of spikes in that cell;
 * cellSize the number of (frame, neuron) pairs a full cell holds (for a density).
 */
export function binRaster(raster, frames, maxCols, maxRows) {
  const n = raster ? raster.n : 0;
  const f = frames.length;
  const perCol = Math.max(1, Math.ceil(f / Math.max(1, maxCols)));
  const perRow = Math.max(1, Math.ceil(n / Math.max(1, maxRows)));
  const cols = Math.max(1, Math.ceil(f / perCol));
  const rows = Math.max(1, Math.ceil(n / perRow));
  const counts = new Uint32Array(cols * rows);
  const cellSize = perCol * perRow;
  if (!raster || f === 0 || n === 0) {
    return { cols, rows, perCol, perRow, counts, cellSize: 1, spikes: 0 };
  }
  const rb = raster.rowBytes;
  const bits = raster.bits;
  let spikes = 0;
  for (let k = 0; k < f; k++) {
    const c = Math.floor(k / perCol);
    const off = frames[k] * rb;
    for (let b = 0; b < rb; b++) {
      let v = bits[off + b];
      if (v === 0) continue;
      const base = b * 8;
      while (v !== 0) {
        const j = 31 - Math.clz32(v & -v); // lowest set bit
        v &= v - 1;
        const i = base + j;
        if (i < n) {
          counts[Math.floor(i / perRow) * cols + c]++;
          spikes++;
        }
      }
    }
  }
  return { cols, rows, perCol, perRow, counts, cellSize, spikes };
}

function rgbOf(ctx, colour) {
  ctx.fillStyle = "#000";
  ctx.fillStyle = colour;
  const s = ctx.fillStyle; // normalised: #rrggbb or rgba(r, g, b, a)
  if (s.startsWith("#")) {
    return [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16));
  }
  return s.replace(/[^\d.,]/g, "").split(",").slice(0, 3).map(Number);
}

/**
 * Draw a binned raster onto a 2D context: cell (c, r) fills colPx x rowPx device pixels
 * from (x0, y0), so frames keep their true width (nothing stretches to fill the plot);
 * the rest of (0, 0, width, height) is background.
 */
export function drawRaster(ctx, grid, width, height, colours, place = null) {
  const { cols, rows, counts, cellSize } = grid;
  const { x0, y0, colPx, rowPx } = place || {
    x0: 0, y0: 0, colPx: width / cols, rowPx: height / rows };
  ctx.fillStyle = colours.bg;
  ctx.fillRect(0, 0, width, height);
  const img = new ImageData(cols, rows);
  const [r, g, b] = rgbOf(ctx, colours.fg);
  const px = img.data;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (c === 0) continue;
    // density with a square root so that sparse activity stays visible
    const a = cellSize === 1 ? 255 : Math.max(40, Math.round(255 * Math.sqrt(c / cellSize)));
    const o = i * 4;
    px[o] = r;
    px[o + 1] = g;
    px[o + 2] = b;
    px[o + 3] = a;
  }
  const off = typeof OffscreenCanvas === "function" ? new OffscreenCanvas(cols, rows)
    : Object.assign(document.createElement("canvas"), { width: cols, height: rows });
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, x0, y0, cols * colPx, rows * rowPx);
}

/** Which frame and neuron lie under canvas point (x, y) of a width x height raster. */
export function pick(frames, n, width, height, x, y) {
  if (frames.length === 0 || n === 0) return null;
  const k = Math.min(frames.length - 1, Math.max(0, Math.floor((x / width) * frames.length)));
  const i = Math.min(n - 1, Math.max(0, Math.floor((y / height) * n)));
  return { frame: frames[k], neuron: i };
}

/** A flat neuron index as a multi-index over the layer's neuron shape: "(c, h, w)". */
export function unravel(i, shape) {
  if (!shape || shape.length <= 1) return String(i);
  const idx = [];
  let rest = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(rest % shape[d]);
    rest = Math.floor(rest / shape[d]);
  }
  return `${i} (${idx.join(", ")})`;
}

// ---- where the frames go, axes and a caption that is true ----
export const MAX_CELL_PX = 4; // CSS px a frame (or a neuron) is drawn at most
const MARGIN = { left: 48, right: 8, top: 6, bottom: 30 }; // CSS px around the plot

/**
 * Where the cells go on a canvas of cssW x cssH CSS px at dpr device px per CSS px:
 * the plot area after the axes' margins, and per frame (column) and neuron (row) a
 * whole number of device pixels, at most MAX_CELL_PX CSS px: a few frames stay
 * narrow instead of stretching into stripes.
 */
export function rasterLayout(f, n, cssW, cssH, dpr) {
  const x0 = Math.round(MARGIN.left * dpr);
  const y0 = Math.round(MARGIN.top * dpr);
  const pw = Math.max(1, Math.round(cssW * dpr) - x0 - Math.round(MARGIN.right * dpr));
  const ph = Math.max(1, Math.round(cssH * dpr) - y0 - Math.round(MARGIN.bottom * dpr));
  const cap = Math.max(1, Math.round(MAX_CELL_PX * dpr));
  const side = (k, room) => {
    const per = Math.max(1, Math.ceil(k / room));
    const cells = Math.max(1, Math.ceil(k / per));
    const px = per > 1 ? 1 : Math.max(1, Math.min(Math.floor(room / Math.max(k, 1)), cap));
    return [per, cells, px];
  };
  const [perCol, cols, colPx] = side(f, pw);
  const [perRow, rows, rowPx] = side(n, ph);
  return { x0, y0, pw, ph, dpr, perCol, cols, colPx, perRow, rows, rowPx,
    width: cols * colPx, height: rows * rowPx };
}

/** About `want` round tick values in [0, last] (integers). */
function ticks(last, want) {
  if (last <= 0) return [0];
  const raw = last / Math.max(1, want);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw);
  const out = [];
  for (let v = 0; v <= last; v += step) out.push(Math.round(v));
  return out;
}

function drawAxes(ctx, lay, f, n, neurons, colours) {
  const { x0, y0, dpr, colPx, rowPx, perCol, perRow } = lay;
  ctx.save();
  ctx.strokeStyle = colours.grid;
  ctx.fillStyle = colours.fg2;
  ctx.lineWidth = Math.max(1, Math.round(dpr));
  ctx.font = `${Math.round(10 * dpr)}px sans-serif`;
  const left = x0 - ctx.lineWidth;
  const bottom = y0 + lay.height + ctx.lineWidth;
  ctx.beginPath();
  ctx.moveTo(left, y0);
  ctx.lineTo(left, bottom);
  ctx.lineTo(x0 + Math.max(lay.width, 1), bottom);
  ctx.stroke();
  const tickLen = Math.round(3 * dpr);
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const xs = ticks(f - 1, Math.max(1, Math.floor(lay.width / (50 * dpr))));
  for (const k of xs) {
    const x = x0 + (Math.floor(k / perCol) + 0.5) * colPx;
    ctx.beginPath();
    ctx.moveTo(x, bottom);
    ctx.lineTo(x, bottom + tickLen);
    ctx.stroke();
    ctx.fillText(String(k), x, bottom + tickLen + dpr);
  }
  ctx.textAlign = "right";
  ctx.fillText("time step", ctx.canvas.width - Math.round(MARGIN.right * dpr),
    bottom + tickLen + 13 * dpr);
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const ys = ticks(n - 1, Math.max(1, Math.floor(lay.height / (30 * dpr))));
  for (const i of ys) {
    const y = y0 + (Math.floor(i / perRow) + 0.5) * rowPx;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left - tickLen, y);
    ctx.stroke();
    ctx.fillText(String(neurons ? neurons[i] : i), left - tickLen - dpr, y);
  }
  ctx.translate(Math.round(9 * dpr), y0 + lay.height / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText("neuron", 0, 0);
  ctx.restore();
}

/**
 * Draw the raster view of layer `li` at `epoch` (null: live, every kept frame) on
 * `canvas` (cssW x cssH CSS px), with axes, and write a caption that says what is
 * drawn. Returns {view, layout, grid} for hover (see pickCell).
 */
export function renderRaster(canvas, caption, store, li, epoch, opts) {
  const { cssW, cssH, colours, layerName = "" } = opts;
  const dpr = opts.dpr || 1;
  const view = rasterView(store, li, epoch);
  const { raster, frames } = view;
  const n = raster ? raster.n : 0;
  const lay = rasterLayout(frames.length, n, cssW, cssH, dpr);
  const grid = binRaster(raster, frames, lay.pw, lay.ph);
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  const ctx = canvas.getContext("2d");
  drawRaster(ctx, grid, canvas.width, canvas.height, colours, lay);
  if (raster && frames.length) drawAxes(ctx, lay, frames.length, n, raster.neurons, colours);
  canvas.dataset.frames = String(frames.length);
  canvas.dataset.framePx = String(lay.perCol > 1 ? 0 : lay.colPx);
  canvas.dataset.plotX = String(lay.x0);
  canvas.dataset.plotY = String(lay.y0);
  const meta = store.meta || {};
  const dropped = epoch !== null && (meta.dropped_epochs || []).includes(epoch)
    ? ` Epoch ${epoch}'s layer statistics were dropped (max_epochs=${meta.max_epochs} ` +
      "keeps the newest epochs): rates and findings leave it out." : "";
  if (!raster || frames.length === 0) {
    caption.textContent = (raster
      ? `No frames of epoch ${epoch} were kept (the window holds the last ` +
        `${store.meta.raster_window} time steps; older epochs keep their last frames ` +
        "for the newest epochs only)."
      : "No raster frames kept for this layer yet.") + dropped;
    return { view, layout: lay, grid };
  }
  const first = frames[0];
  const last = frames[frames.length - 1];
  const eps = raster.epochs[first] === raster.epochs[last] ? `epoch ${raster.epochs[first]}`
    : `epochs ${raster.epochs[first]}\u2013${raster.epochs[last]}`;
  const total = raster.n_neurons || (store.layers[li] && store.layers[li].n_neurons) || n;
  const who = total > n ? `${count(n, "neuron")} (an evenly spaced sample of ${total})`
    : count(n, "neuron");
  const kept = view.source === "epoch" ? ": its last frames, kept per epoch" : "";
  const scale = (per, px, noun) => (per > 1 ? `${count(per, noun)} per pixel`
    : `1 ${noun} = ${Number((px / dpr).toFixed(2))} px`);
  const dens = lay.perCol > 1 || lay.perRow > 1 ? " \u00B7 density" : "";
  caption.textContent = `${count(frames.length, "frame")} (steps ${raster.steps[first]}` +
    `\u2013${raster.steps[last]}, ${eps}${kept})` +
    ` \u00D7 ${who} \u00B7 ${count(grid.spikes, "spike")} \u00B7 ` +
    `${scale(lay.perCol, lay.colPx, "frame")}, ${scale(lay.perRow, lay.rowPx, "neuron")}${dens}` +
    (dropped ? ` \u00B7${dropped}` : "");
  if (layerName) canvas.setAttribute("aria-label", `Spike raster of ${layerName}`);
  return { view, layout: lay, grid };
}

/**
 * The frame and neuron under CSS point (x, y) of a drawn raster (see renderRaster),
 * the nearest drawn cell for a point in the margins; null when nothing is drawn.
 * `frame` indexes the raster's stored frames; `neuron` is the kept column and `index`
 * the neuron's flat index in the layer.
 */
export function pickCell(drawn, x, y) {
  const { view, layout: lay } = drawn;
  const { raster, frames } = view;
  if (!raster || frames.length === 0 || raster.n === 0) return null;
  const px = x * lay.dpr - lay.x0;
  const py = y * lay.dpr - lay.y0;
  const c = Math.min(lay.cols - 1, Math.max(0, Math.floor(px / lay.colPx)));
  const r = Math.min(lay.rows - 1, Math.max(0, Math.floor(py / lay.rowPx)));
  const k = Math.min(frames.length - 1, c * lay.perCol);
  const i = Math.min(raster.n - 1, r * lay.perRow);
  return { frame: frames[k], neuron: i, index: raster.neurons ? raster.neurons[i] : i };
}
