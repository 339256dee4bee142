// Spike raster: time (x) by neuron (y) from the packed frames the profiler keeps.
// Any size draws in one pass: frames and neurons are binned into at most one cell per
// pixel (density mode) and the grid is scaled to the canvas, so 10,000 neurons x 10,000
// frames cost one walk over the set bits.

/** Indices of the frames to show: those of `epoch`, or all when epoch is null. */
export function selectFrames(raster, epoch) {
  const out = [];
  if (!raster) return out;
  for (let k = 0; k < raster.frames; k++) {
    if (epoch === null || raster.epochs[k] === epoch) out.push(k);
  }
  return out;
}

/**
 * Bin the selected frames into a grid of at most maxCols x maxRows cells.
 * Returns {cols, rows, counts (Uint32Array rows*cols, row-major), cellSize, spikes}:
 * counts[r * cols + c] is the number of spikes in that cell; cellSize the number of
 * (frame, neuron) pairs a full cell holds (for a density in [0, 1]).
 */
export function binRaster(raster, frames, maxCols, maxRows) {
  const n = raster ? raster.n : 0;
  const f = frames.length;
  const cols = Math.max(1, Math.min(f, maxCols));
  const rows = Math.max(1, Math.min(n, maxRows));
  const counts = new Uint32Array(cols * rows);
  if (!raster || f === 0 || n === 0) return { cols, rows, counts, cellSize: 1, spikes: 0 };
  const rowOf = new Uint32Array(n);
  for (let i = 0; i < n; i++) rowOf[i] = Math.floor((i * rows) / n);
  const rb = raster.rowBytes;
  const bits = raster.bits;
  let spikes = 0;
  for (let k = 0; k < f; k++) {
    const c = Math.floor((k * cols) / f);
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
          counts[rowOf[i] * cols + c]++;
          spikes++;
        }
      }
    }
  }
  const cellSize = Math.max(1, Math.ceil(f / cols)) * Math.max(1, Math.ceil(n / rows));
  return { cols, rows, counts, cellSize, spikes };
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

/** Draw a binned raster onto a 2D context filling (0, 0, width, height). */
export function drawRaster(ctx, grid, width, height, colours) {
  const { cols, rows, counts, cellSize } = grid;
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
  ctx.drawImage(off, 0, 0, width, height);
}

/** Which frame and neuron lie under canvas point (x, y) of a width x height raster. */
export function pick(frames, n, width, height, x, y) {
  if (frames.length === 0 || n === 0) return null;
  const k = Math.min(frames.length - 1, Math.max(0, Math.floor((x / width) * frames.length)));
  const i = Math.min(n - 1, Math.max(0, Math.floor((y / height) * n)));
  return { frame: frames[k], neuron: i };
}

/** Whether neuron i spiked in stored frame k. */
export function spiked(raster, k, i) {
  return (raster.bits[k * raster.rowBytes + (i >> 3)] >> (i & 7)) & 1;
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
