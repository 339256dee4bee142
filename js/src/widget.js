// ProfilerWidget's view: anywidget's render({model, el}). Python sends statistics
// (traits _base and _update, binary arrays); everything a threshold changes is recomputed
// here, so slider moves never wait for the kernel. Returns a cleanup function.

import { themeColours } from "./canvas.js";
import { clear, count, h } from "./dom.js";
import { drawHistogram, histogramOf } from "./histogram.js";
import { renderBars } from "./bars.js";
import { pickCell, renderRaster, spiked, unravel } from "./raster.js";
import { buildReport, firstSeen, trends } from "./report.js";
import { CLASS_NAMES, classifyRate } from "./rules.js";
import { renderSliders } from "./sliders.js";
import { applyMessage, createStore } from "./store.js";
import { injectStyle } from "./style.js";
import { decodeSweep, nearestIndex, predict } from "./sweep.js";
import { createSweepPanel } from "./sweeppanel.js";
import { renderTable } from "./table.js";
import { drawClassTrends, drawLoss } from "./trends.js";

const PLAY_MS = 700;

function legend() {
  const item = (cls, text) => h("span", null, null, h("span", `sw-key ${cls}`), h("span", null, text));
  return h("div", "sw-legend", null, item("sw-dead", "dead"), item("sw-healthy", "healthy"),
    item("sw-saturated", "saturated"));
}

function buildDom(root) {
  const d = {};
  d.title = h("span", "sw-title", "spikewidget");
  d.status = h("span", "sw-status", "");
  root.appendChild(h("div", "sw-header", null, d.title, d.status));
  d.layer = h("select", "sw-layer-select");
  d.layer.setAttribute("aria-label", "layer");
  d.prev = h("button", "sw-prev", "\u25C0");
  d.play = h("button", "sw-play", "\u25B6 play");
  d.next = h("button", "sw-next", "\u25B6");
  d.prev.title = "previous epoch";
  d.next.title = "next epoch";
  d.scrub = h("input", "sw-scrub");
  Object.assign(d.scrub, { type: "range", min: "0", max: "0", step: "1", value: "0" });
  d.scrub.setAttribute("aria-label", "epoch");
  d.epochLabel = h("span", "sw-epoch-label", "");
  d.live = h("input", "sw-live");
  d.live.type = "checkbox";
  root.appendChild(h("div", "sw-controls", null,
    h("label", null, "Layer ", d.layer),
    h("span", "sw-epoch", null, h("span", null, "Epoch "), d.prev, d.scrub, d.next, d.epochLabel,
      d.play),
    h("label", null, null, d.live, h("span", null, "live (follow newest)"))));

  const grid = h("div", "sw-grid");
  d.rasterTitle = h("h4", null, "Spike raster");
  d.raster = h("canvas", "sw-canvas sw-raster");
  d.rasterCaption = h("div", "sw-caption", "");
  d.tip = h("div", "sw-tip");
  d.tip.hidden = true;
  d.rasterPanel = h("div", "sw-panel", null, d.rasterTitle, d.raster, d.rasterCaption, d.tip);
  d.histTitle = h("h4", null, "Firing rates");
  d.hist = h("canvas", "sw-canvas sw-hist");
  d.histCaption = h("div", "sw-caption", "");
  d.histPanel = h("div", "sw-panel", null, d.histTitle, d.hist, legend(), d.histCaption);
  d.bars = h("div", "sw-bars");
  d.barsPanel = h("div", "sw-panel", null, h("h4", null, "Neuron classes per layer"), legend(),
    d.bars);
  d.trend = h("canvas", "sw-canvas sw-trend");
  d.loss = h("canvas", "sw-canvas sw-loss");
  d.trendLegend = h("div", "sw-legend");
  d.trendPanel = h("div", "sw-panel", null, h("h4", null, "Trends over epochs"), d.trend,
    d.trendLegend, d.loss);
  d.table = h("div", "sw-table-wrap");
  d.tablePanel = h("div", "sw-panel sw-wide", null, h("h4", null, "Pathologies"), d.table);
  for (const p of [d.rasterPanel, d.histPanel, d.barsPanel, d.trendPanel, d.tablePanel]) {
    grid.appendChild(p);
  }
  root.appendChild(grid);
  d.sweeps = h("div", "sw-sweeps");
  root.appendChild(d.sweeps);
  d.sliders = h("div", "sw-sliders");
  d.defaults = h("button", "sw-defaults", "defaults");
  d.thresholds = h("details", "sw-thresholds", null,
    h("summary", null, "Thresholds (re-diagnose in the browser)"), d.sliders, d.defaults);
  d.thresholds.open = true;
  root.appendChild(d.thresholds);
  return d;
}

/** anywidget entry point: draw the widget for `model` into `el`. */
export function render({ model, el }) {
  injectStyle(el);
  const root = h("div", "sw-root");
  el.appendChild(root);
  const d = buildDom(root);
  const store = createStore();
  const stats = { draws: 0, lastDrawMs: 0, lastRasterMs: 0, lastUpdateMs: 0, resyncs: 0 };
  root.swStats = stats;
  root.swStore = store;
  let th = { ...model.get("threshold_values") };
  let rasterKey = "";
  let drawnRaster = null; // what renderRaster drew, for hover
  let current = null; // {epoch, report, layer}
  let pending = 0;
  let lastResync = -Infinity;
  let playTimer = null;
  let disposed = false;

  const ingest = (msg) => {
    const r = applyMessage(store, msg);
    if (r === "gap" && performance.now() - lastResync > 1000) {
      lastResync = performance.now();
      stats.resyncs += 1;
      model.send({ type: "resync", seq: store.seq });
    }
  };
  ingest(model.get("_base"));
  ingest(model.get("_update"));

  const specs = () => (store.meta ? store.meta.sliders : []);
  const defaults = () => Object.fromEntries(specs().map((s) => [s.name, s.default]));
  const sliders = renderSliders(d.sliders, specs(), store.meta ? store.meta.order : [],
    { ...defaults(), ...th }, {
      onInput(values) {
        th = values;
        const t0 = performance.now();
        draw(false);
        stats.lastUpdateMs = performance.now() - t0;
      },
      onCommit(values) {
        model.set("threshold_values", { ...values });
        model.save_changes();
      },
    });
  d.defaults.addEventListener("click", () => {
    th = defaults();
    sliders.set(th);
    model.set("threshold_values", { ...th });
    model.save_changes();
    draw(false);
  });

  // ---- threshold sweeps: one neuron-threshold slider and prediction per sweep -------
  let sweeps = []; // [{sweep, panel}]
  function chosenIndex(sweep) {
    const chosen = (model.get("sweep_thresholds") || {})[sweep.key];
    if (typeof chosen === "number" && chosen > 0) return nearestIndex(sweep.grid, chosen);
    return sweep.bestIndex !== null ? sweep.bestIndex : nearestIndex(sweep.grid, sweep.original);
  }
  function drawSweep(entry, colours = themeColours(root)) {
    const t0 = performance.now();
    const li = layerIndex();
    const name = li >= 0 ? store.layers[li].name : null;
    entry.panel.render(predict(entry.sweep, entry.panel.index, th), colours, name, th,
      current ? current.report : null);
    stats.lastSweepMs = performance.now() - t0;
  }
  function loadSweeps() {
    clear(d.sweeps);
    sweeps = (model.get("_sweeps") || []).map((msg) => {
      const sweep = decodeSweep(msg);
      const entry = { sweep };
      entry.panel = createSweepPanel(sweep, chosenIndex(sweep), {
        onInput() { drawSweep(entry); },
        onCommit(i) {
          model.set("sweep_thresholds", { ...(model.get("sweep_thresholds") || {}),
            [sweep.key]: sweep.grid[i] });
          model.save_changes();
        },
      });
      d.sweeps.appendChild(entry.panel.el);
      return entry;
    });
  }
  loadSweeps();

  const epochs = () => store.epochs;
  function shownEpoch() {
    const eps = epochs();
    if (eps.length === 0) return null;
    if (model.get("live")) return eps[eps.length - 1];
    const e = model.get("epoch");
    if (eps.includes(e)) return e;
    return eps.reduce((best, x) => (Math.abs(x - e) < Math.abs(best - e) ? x : best), eps[0]);
  }
  function layerIndex() {
    const name = model.get("layer");
    const i = store.layers.findIndex((l) => l.name === name);
    return i >= 0 ? i : store.layers.length ? 0 : -1;
  }
  function chooseEpoch(e) {
    model.set("live", false);
    model.set("epoch", e);
    model.save_changes();
  }

  // ---- controls ---------------------------------------------------------------
  function syncControls(epoch) {
    const names = store.layers.map((l) => l.name);
    const have = Array.from(d.layer.options).map((o) => o.value);
    if (names.join("\u0000") !== have.join("\u0000")) {
      clear(d.layer);
      for (const n of names) {
        const o = h("option", null, n);
        o.value = n;
        d.layer.appendChild(o);
      }
    }
    const li = layerIndex();
    if (li >= 0) d.layer.value = names[li];
    const eps = epochs();
    d.scrub.max = String(Math.max(0, eps.length - 1));
    d.scrub.value = String(Math.max(0, eps.indexOf(epoch)));
    d.scrub.disabled = eps.length < 2;
    d.epochLabel.textContent = epoch === null ? "none recorded"
      : `${epoch} (${eps.indexOf(epoch) + 1} of ${eps.length})`;
    d.live.checked = Boolean(model.get("live"));
    d.play.textContent = playTimer ? "\u25A0 stop" : "\u25B6 play";
  }
  const onLayerPick = () => {
    model.set("layer", d.layer.value);
    model.save_changes();
  };
  const onScrub = () => {
    const e = epochs()[Number(d.scrub.value)];
    if (e !== undefined) chooseEpoch(e);
  };
  const stepEpoch = (delta) => {
    const eps = epochs();
    const i = eps.indexOf(shownEpoch());
    const j = Math.min(eps.length - 1, Math.max(0, i + delta));
    if (eps[j] !== undefined) chooseEpoch(eps[j]);
  };
  const stopPlay = () => {
    if (playTimer) clearInterval(playTimer);
    playTimer = null;
    d.play.textContent = "\u25B6 play";
  };
  const onPlay = () => {
    if (playTimer) return stopPlay();
    const eps = epochs();
    if (eps.length < 2) return undefined;
    let i = eps.indexOf(shownEpoch());
    if (i >= eps.length - 1) i = -1;
    chooseEpoch(eps[i + 1]);
    playTimer = setInterval(() => {
      const list = epochs();
      const k = list.indexOf(shownEpoch());
      if (k >= list.length - 1) stopPlay();
      else chooseEpoch(list[k + 1]);
    }, PLAY_MS);
    d.play.textContent = "\u25A0 stop";
    return undefined;
  };
  const onLive = () => {
    stopPlay();
    model.set("live", d.live.checked);
    if (!d.live.checked && shownEpoch() !== null) model.set("epoch", shownEpoch());
    model.save_changes();
  };
  const onPrev = () => stepEpoch(-1);
  const onNext = () => stepEpoch(1);
  // every DOM listener is listed once: added here, removed by the cleanup below
  const listeners = [
    [d.layer, "change", onLayerPick], [d.scrub, "input", onScrub], [d.prev, "click", onPrev],
    [d.next, "click", onNext], [d.play, "click", onPlay], [d.live, "change", onLive],
  ];
  for (const [el, ev, fn] of listeners) el.addEventListener(ev, fn);

  // ---- drawing -----------------------------------------------------------------
  function width(panel) {
    return Math.max(200, Math.floor(panel.clientWidth - 14) || 420);
  }

  function drawRasterView(colours, li, epoch) {
    const live = Boolean(model.get("live"));
    const w = width(d.rasterPanel);
    const hgt = 220;
    const key = [store.version, li, live ? "live" : epoch, w, colours.fg, colours.bg].join("|");
    if (key === rasterKey) return;
    rasterKey = key;
    const t0 = performance.now();
    const name = li >= 0 ? store.layers[li].name : "";
    drawnRaster = renderRaster(d.raster, d.rasterCaption, store, li, live ? null : epoch, {
      cssW: w, cssH: hgt, dpr: window.devicePixelRatio || 1, colours, layerName: name, count });
    stats.lastRasterMs = performance.now() - t0;
    stats.rasterSpikes = drawnRaster.grid.spikes;
    d.rasterTitle.textContent = name ? `Spike raster \u2014 ${name}` : "Spike raster";
  }

  function draw(full = true) {
    if (disposed) return;
    const t0 = performance.now();
    const colours = themeColours(root);
    const epoch = shownEpoch();
    const li = layerIndex();
    syncControls(epoch);
    const report = epoch === null ? { layers: [], findings: [] } : buildReport(store, epoch, th);
    current = { epoch, report, li };
    if (full) drawRasterView(colours, li, epoch);
    // histogram of the selected layer in the shown epoch
    const lv = report.layers.find((l) => l.index === li);
    const hw = width(d.histPanel);
    if (lv) {
      const chunk = store.chunks.get(epoch).layers[li];
      if (!chunk.hist) chunk.hist = histogramOf(chunk.rates);
      drawHistogram(d.hist, chunk.hist, th, colours, hw, 200);
      d.histTitle.textContent = `Firing rates \u2014 ${lv.name}, epoch ${epoch}`;
      d.histCaption.textContent = `${lv.n} neurons: ${lv.deadCount} dead (rate < ${th.dead_rate}), ` +
        `${lv.satCount} saturated (rate > ${th.saturated_rate}); log axis, ` +
        `${chunk.hist.zeros} at rate 0`;
    } else {
      drawHistogram(d.hist, histogramOf([]), th, colours, hw, 200);
      d.histCaption.textContent = "This layer was not recorded in this epoch.";
    }
    renderBars(d.bars, report.layers);
    const tr = trends(store, th);
    const tw = width(d.trendPanel);
    drawClassTrends(d.trend, tr, colours, tw, 130, epoch);
    clear(d.trendLegend);
    tr.series.forEach((s, i) => {
      const key = h("span", "sw-key");
      key.style.background = colours.layers[i % colours.layers.length];
      d.trendLegend.appendChild(h("span", null, null, key, h("span", null, s.name)));
    });
    d.loss.hidden = !drawLoss(d.loss, store.loss, colours, tw, 110, epoch);
    const first = epoch === null ? [] : firstSeen(store, epoch, th, report.findings);
    renderTable(d.table, report.findings, first, epoch !== null);
    for (const entry of sweeps) drawSweep(entry, colours);
    const crit = report.findings.filter((p) => p.severity === "critical").length;
    const warn = report.findings.filter((p) => p.severity === "warning").length;
    d.status.textContent = epoch === null ? "waiting for the first recorded step"
      : `${model.get("live") ? "live \u00B7 " : ""}epoch ${epoch} \u00B7 ` +
        `${count(store.layers.length, "layer")} \u00B7 ${crit} critical, ` +
        `${count(warn, "warning")}`;
    root.dataset.seq = String(store.seq);
    root.dataset.epoch = String(epoch);
    root.dataset.findings = String(report.findings.length);
    stats.draws += 1;
    stats.lastDrawMs = performance.now() - t0;
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

  // ---- hover -------------------------------------------------------------------
  const onMove = (ev) => {
    const li = current ? current.li : -1;
    const rect = d.raster.getBoundingClientRect();
    const hit = drawnRaster && pickCell(drawnRaster, ev.clientX - rect.left,
      ev.clientY - rect.top);
    const raster = hit ? drawnRaster.view.raster : null;
    if (!hit) {
      d.tip.hidden = true;
      return;
    }
    const meta = store.layers[li];
    const lv = current.report.layers.find((l) => l.index === li);
    const rate = lv ? lv.rates[hit.index] : NaN;
    const cls = lv ? CLASS_NAMES[classifyRate(rate, th)] : "not recorded this epoch";
    d.tip.textContent = `neuron ${unravel(hit.index, meta.shape)}\n` +
      `rate ${Number.isFinite(rate) ? rate.toPrecision(3) : rate} \u00B7 ${cls}\n` +
      `step ${raster.steps[hit.frame]}, epoch ${raster.epochs[hit.frame]}: ` +
      `${spiked(raster, hit.frame, hit.neuron) ? "spike" : "no spike"}`;
    d.tip.dataset.neuron = String(hit.index);
    d.tip.dataset.cls = cls;
    d.tip.hidden = false;
    const pr = d.rasterPanel.getBoundingClientRect();
    d.tip.style.left = `${Math.min(ev.clientX - pr.left + 12, pr.width - 180)}px`;
    d.tip.style.top = `${ev.clientY - pr.top + 12}px`;
  };
  const onLeave = () => { d.tip.hidden = true; };
  listeners.push([d.raster, "mousemove", onMove], [d.raster, "mouseleave", onLeave]);
  d.raster.addEventListener("mousemove", onMove);
  d.raster.addEventListener("mouseleave", onLeave);

  // ---- model events ------------------------------------------------------------
  const handlers = {
    "change:_base": () => { ingest(model.get("_base")); schedule(); },
    "change:_update": () => { ingest(model.get("_update")); schedule(); },
    "change:threshold_values": () => {
      th = { ...th, ...model.get("threshold_values") };
      sliders.set(th);
      schedule();
    },
    "change:_sweeps": () => { loadSweeps(); schedule(); },
    "change:sweep_thresholds": () => {
      for (const entry of sweeps) {
        const i = chosenIndex(entry.sweep);
        if (i !== entry.panel.index) {
          entry.panel.set(i);
          drawSweep(entry);
        }
      }
    },
    "change:epoch": schedule,
    "change:live": schedule,
    "change:layer": schedule,
  };
  for (const [ev, fn] of Object.entries(handlers)) model.on(ev, fn);

  const observers = [];
  if (typeof ResizeObserver === "function") {
    const ro = new ResizeObserver(() => schedule());
    ro.observe(root);
    observers.push(ro);
  }
  if (typeof MutationObserver === "function" && document.body) {
    const mo = new MutationObserver(() => { rasterKey = ""; schedule(); });
    mo.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-name",
      "data-jp-theme-light", "class"] });
    observers.push(mo);
  }
  root.swRedraw = (rasterToo = true) => {
    if (rasterToo) rasterKey = "";
    const t0 = performance.now();
    draw(true);
    return performance.now() - t0;
  };
  draw(true);

  return () => {
    disposed = true;
    stopPlay();
    for (const [ev, fn] of Object.entries(handlers)) model.off(ev, fn);
    for (const o of observers) o.disconnect();
    for (const [el, ev, fn] of listeners) el.removeEventListener(ev, fn);
    root.remove();
  };
}
