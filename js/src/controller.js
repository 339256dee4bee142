// One view of a widget: builds its DOM, its views and controls, and redraws them from the
// session's store and the model's traits. Every draw computes one frame (the shown epoch
// and layer, the report under the thresholds on screen, the colours) and hands it to each
// view's update(frame); slider moves redraw at once, everything else once per frame.

import { buildReport, defaultLayer, firstSeen, trends } from "./diagnose/report.js";
import { liveEpoch } from "./model/epochs.js";
import { createControls } from "./ui/controls.js";
import { buildDom, fitLayout } from "./ui/layout.js";
import { injectStyle } from "./ui/style.js";
import { createSweepsView } from "./ui/sweeps.js";
import { applyPalette, themeColours } from "./ui/theme.js";
import { createThresholds } from "./ui/thresholds.js";
import { createBarsView } from "./views/bars.js";
import { createHealthView } from "./views/healthmap.js";
import { createHistogramView } from "./views/histogram.js";
import { createRasterView } from "./views/rasterview.js";
import { createStatusView } from "./views/status.js";
import { createTableView } from "./views/table.js";
import { createTrendsView } from "./views/trends.js";

const THEME_ATTRIBUTES = ["data-jp-theme-name", "data-jp-theme-light", "class", "style"];

/**
 * Draw a view of `model` into `el` from `session` (session.js). Returns the cleanup that
 * removes it, its listeners and observers. The root element carries test hooks: swStats
 * (timings), swStore and swRedraw(rasterToo).
 */
export function createController(el, model, session) {
  const { store } = session;
  injectStyle(el);
  const root = document.createElement("div");
  root.className = "sw-root";
  el.appendChild(root);
  const offline = Boolean(model.get("_offline")); // a static page: no kernel, nothing live
  const d = buildDom(root, { offline });
  const stats = { draws: 0, lastDrawMs: 0, lastRasterMs: 0, lastUpdateMs: 0 };
  root.swStats = stats;
  root.swStore = store;
  let pending = 0;
  let disposed = false;

  function shownEpoch() {
    const eps = store.epochs;
    if (eps.length === 0) return null;
    if (model.get("live")) return liveEpoch(store);
    const e = model.get("epoch");
    if (eps.includes(e)) return e;
    return eps.reduce((best, x) => (Math.abs(x - e) < Math.abs(best - e) ? x : best), eps[0]);
  }
  function layerIndex() {
    const name = model.get("layer");
    const i = store.layers.findIndex((l) => l.name === name);
    return i >= 0 ? i : store.layers.length ? 0 : -1;
  }
  // no layer chosen (or it is gone): the worst finding's, else the first hidden layer;
  // told to the model, so that Python sends that layer's raster
  function ensureLayer(report) {
    const name = model.get("layer");
    if (store.layers.length === 0 || store.layers.some((l) => l.name === name)) return;
    model.set("layer", defaultLayer(store, report));
    model.save_changes();
  }
  function chooseEpoch(e) {
    model.set("live", false);
    model.set("epoch", e);
    model.save_changes();
  }

  const schedule = () => {
    if (pending) return;
    const raf = typeof requestAnimationFrame === "function" ? requestAnimationFrame
      : (fn) => setTimeout(fn, 16);
    pending = raf(() => {
      pending = 0;
      draw(true);
    });
  };
  const thresholds = createThresholds(d, { model, store, schedule, onInput() {
    const t0 = performance.now();
    draw(false);
    stats.lastUpdateMs = performance.now() - t0;
  } });
  const raster = createRasterView(d, { root, stats });
  const views = [
    createControls(d, { model, store, shownEpoch, chooseEpoch }),
    raster,
    createHistogramView(d, { stats }),
    createBarsView(d.bars),
    createTrendsView(d),
    createHealthView(d, { onPick(e, name) {
      model.set("layer", name);
      chooseEpoch(e);
    } }),
    createTableView(d.table),
    createSweepsView(d.sweeps, { model, stats, schedule }),
    createStatusView(d.status, { offline }),
  ];

  /** Redraw every view; `full`: the raster too (a slider move leaves it as it is). */
  function draw(full) {
    if (disposed) return;
    const t0 = performance.now();
    const palette = store.meta ? store.meta.palette : null;
    applyPalette(root, palette);
    const colours = themeColours(root, palette);
    const th = thresholds.values();
    const epoch = shownEpoch();
    const report = epoch === null ? { layers: [], findings: [] } : buildReport(store, epoch, th);
    ensureLayer(report);
    const first = epoch === null ? [] : firstSeen(store, epoch, th, report.findings);
    const frame = { store, epoch, report, li: layerIndex(), th, colours, full, first,
      live: Boolean(model.get("live")), trend: trends(store, th) };
    for (const view of views) view.update(frame);
    root.dataset.seq = String(store.seq);
    root.dataset.epoch = String(epoch);
    root.dataset.findings = String(report.findings.length);
    stats.draws += 1;
    stats.lastDrawMs = performance.now() - t0;
  }

  const traits = ["change:epoch", "change:live", "change:layer"];
  for (const ev of traits) model.on(ev, schedule);
  const unsubscribe = session.subscribe(schedule);
  const observers = [];
  if (typeof ResizeObserver === "function") {
    // every canvas follows its panel: any panel (or the widget) changing size redraws
    const ro = new ResizeObserver(() => {
      fitLayout(root);
      raster.hideTip();
      schedule();
    });
    for (const target of [root, ...d.canvasPanels]) ro.observe(target);
    observers.push(ro);
  }
  if (typeof MutationObserver === "function" && document.body) {
    const mo = new MutationObserver(() => { raster.invalidate(); schedule(); });
    mo.observe(document.body, { attributes: true, attributeFilter: THEME_ATTRIBUTES });
    observers.push(mo);
  }
  root.swRedraw = (rasterToo = true) => {
    if (rasterToo) raster.invalidate();
    const t0 = performance.now();
    draw(true);
    return performance.now() - t0;
  };
  fitLayout(root);
  draw(true);

  return () => {
    disposed = true;
    unsubscribe();
    for (const ev of traits) model.off(ev, schedule);
    for (const o of observers) o.disconnect();
    for (const view of [thresholds, ...views]) view.destroy();
    root.remove();
  };
}
