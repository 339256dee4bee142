// The layer picker and the epoch controls (scrubber, previous / next, play, live). They
// change the model's layer, epoch and live traits; the controller redraws on the change.

import { clear, h } from "../views/dom.js";
import { epochLabel } from "../views/status.js";

const PLAY_MS = 700;

/**
 * Wire the controls of `d` (layout.js elements) to `model`. `shownEpoch()` is the epoch on
 * screen, `chooseEpoch(e)` leaves live mode for epoch e. update(frame) shows the frame's
 * layer and epoch; destroy() stops playing and removes the listeners.
 */
export function createControls(d, { model, store, shownEpoch, chooseEpoch }) {
  let playTimer = null;
  const epochs = () => store.epochs;
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
  const listeners = [
    [d.layer, "change", onLayerPick], [d.scrub, "input", onScrub],
    [d.prev, "click", () => stepEpoch(-1)], [d.next, "click", () => stepEpoch(1)],
    [d.play, "click", onPlay], [d.live, "change", onLive],
  ];
  for (const [el, ev, fn] of listeners) el.addEventListener(ev, fn);

  return {
    update({ epoch, li, live }) {
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
      if (li >= 0) d.layer.value = names[li];
      const eps = epochs();
      d.scrub.max = String(Math.max(0, eps.length - 1));
      d.scrub.value = String(Math.max(0, eps.indexOf(epoch)));
      const single = eps.length < 2;
      for (const b of [d.scrub, d.prev, d.next, d.play]) b.disabled = single;
      d.epochLabel.textContent = epochLabel(epoch, eps);
      d.live.checked = live;
      d.play.textContent = playTimer ? "\u25A0 stop" : "\u25B6 play";
    },
    destroy() {
      stopPlay();
      for (const [el, ev, fn] of listeners) el.removeEventListener(ev, fn);
    },
  };
}
