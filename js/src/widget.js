// ProfilerWidget's view: anywidget's render({model, el}). Python sends statistics
// (traits _base and _update, binary arrays); everything a threshold changes is recomputed
// here, so slider moves never wait for the kernel. Returns a cleanup function.

import { themeColours } from "./canvas.js";
import { clear, count, h } from "./dom.js";
import { healthMapView } from "./healthmap.js";
import { renderBars } from "./bars.js";
import { pickCell, renderRaster, spiked, unravel } from "./raster.js";
import { buildReport, firstSeen, trends } from "./report.js";
import { CLASS_NAMES, classifyRate } from "./rules.js";
import { renderSliders } from "./sliders.js";
import { applyMessage, createStore } from "./store.js";
import { buildDom, contentWidth, fitLayout } from "./layout.js";
import { fillHistogram, fillTrends } from "./panels.js";
import { applyPalette } from "./palette.js";
import { defaultLayer, epochLabel, liveEpoch, statusText } from "./status.js";
import { injectStyle } from "./style.js";
import { decodeSweep, nearestIndex, predict } from "./sweep.js";
import { createSweepPanel } from "./sweeppanel.js";
import { renderTable } from "./table.js";

const PLAY_MS = 700;

/** anywidget entry point: draw the widget for `model` into `el`. */
export function render({ model, el }) {
  injectStyle(el);
  const root = document.createElement("div");
  root.className = "sw-root";
  el.appendChild(root);
  const offline = Boolean(model.get("_offline")); // a static page: no kernel, nothing live
  const d = buildDom(root, { offline });
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
      onMarks(n) {
        d.thresholdsSummary.textContent = "Thresholds (re-diagnose in the browser)" +
          (n ? ` \u00B7 ${n} changed from default` : "");
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
  const palette = () => (store.meta ? store.meta.palette : null);
  function drawSweep(entry, colours = themeColours(root, palette())) {
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
    const single = eps.length < 2;
    for (const b of [d.scrub, d.prev, d.next, d.play]) b.disabled = single;
    d.epochLabel.textContent = epochLabel(epoch, eps);
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
  // a canvas takes its panel's width; 0 while not laid out (then it is drawn once the
  // ResizeObserver sees the panel's real size, never at a made-up width)
  const width = contentWidth;

  function drawRasterView(colours, li, epoch) {
    const live = Boolean(model.get("live"));
    const w = width(d.rasterPanel);
    const hgt = 220;
    const key = [store.version, li, live ? "live" : epoch, w, colours.fg, colours.bg].join("|");
    if (key === rasterKey || w === 0) return;
    rasterKey = key;
    d.tip.hidden = true; // what it described is gone
    const t0 = performance.now();
    const name = li >= 0 ? store.layers[li].name : "";
    drawnRaster = renderRaster(d.raster, d.rasterCaption, store, li, live ? null : epoch, {
      cssW: w, cssH: hgt, dpr: window.devicePixelRatio || 1, colours, layerName: name, count });
    stats.lastRasterMs = performance.now() - t0;
    stats.rasterSpikes = drawnRaster.grid.spikes;
    d.rasterTitle.textContent = name ? `Spike raster \u2014 ${name}` : "Spike raster";
  }

  const health = healthMapView(d.health, (e, name) => {
    model.set("layer", name);
    chooseEpoch(e);
  });

  function draw(full = true) {
    if (disposed) return;
    const t0 = performance.now();
    applyPalette(root, palette());
    const colours = themeColours(root, palette());
    const epoch = shownEpoch();
    const report = epoch === null ? { layers: [], findings: [] } : buildReport(store, epoch, th);
    ensureLayer(report);
    const li = layerIndex();
    syncControls(epoch);
    current = { epoch, report, li };
    if (full) drawRasterView(colours, li, epoch);
    const lv = report.layers.find((l) => l.index === li);
    const hw = width(d.histPanel);
    if (hw) stats.hist = fillHistogram(d, store, lv, epoch, th, colours, hw);
    renderBars(d.bars, report.layers);
    const tr = trends(store, th);
    const tw = width(d.trendPanel);
    if (tw) fillTrends(d, store, tr, colours, tw, epoch);
    const first = epoch === null ? [] : firstSeen(store, epoch, th, report.findings);
    const marks = report.findings.map((p, i) => ({ layer: p.layer, severity: p.severity,
      category: p.category, epoch: first[i] ?? p.epoch }));
    d.health.hidden = tr.epochs.length === 0;
    d.healthNote.textContent = tr.epochs.length === 0 ? "Nothing recorded yet."
      : "Click a cell to show that epoch and layer; \u25CF a finding, where it first appeared.";
    const mw = width(d.healthPanel);
    if (mw && tr.epochs.length) health.draw(tr, marks, colours, mw, epoch, li);
    renderTable(d.table, report.findings, first, epoch !== null);
    for (const entry of sweeps) drawSweep(entry, colours);
    const live = Boolean(model.get("live"));
    const newest = store.epochs.length ? store.epochs[store.epochs.length - 1] : null;
    d.status.textContent = statusText({ epoch, live: live && !offline,
      pending: live && newest !== epoch ? newest : null, layers: store.layers.length,
      findings: report.findings });
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
    // kept inside the raster's panel, never over the next one
    const pr = d.rasterPanel.getBoundingClientRect();
    const x = ev.clientX - pr.left;
    const y = ev.clientY - pr.top;
    const tw = d.tip.offsetWidth;
    const th2 = d.tip.offsetHeight;
    d.tip.style.left = `${Math.max(0, x + 12 + tw > pr.width ? x - 12 - tw : x + 12)}px`;
    d.tip.style.top = `${Math.max(0, y + 12 + th2 > pr.height ? y - 12 - th2 : y + 12)}px`;
  };
  const onLeave = () => { d.tip.hidden = true; };
  const more = [[d.raster, "mousemove", onMove], [d.raster, "mouseleave", onLeave],
    [root, "mouseleave", onLeave], ...health.listeners];
  for (const [el, ev, fn] of more) el.addEventListener(ev, fn);
  listeners.push(...more);

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
    // every canvas follows its panel: any panel (or the widget) changing size redraws
    const ro = new ResizeObserver(() => {
      fitLayout(root);
      d.tip.hidden = true;
      schedule();
    });
    for (const target of [root, ...d.canvasPanels]) ro.observe(target);
    observers.push(ro);
  }
  if (typeof MutationObserver === "function" && document.body) {
    const mo = new MutationObserver(() => { rasterKey = ""; schedule(); });
    mo.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-name",
      "data-jp-theme-light", "class", "style"] });
    observers.push(mo);
  }
  root.swRedraw = (rasterToo = true) => {
    if (rasterToo) rasterKey = "";
    const t0 = performance.now();
    draw(true);
    return performance.now() - t0;
  };
  fitLayout(root);
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
