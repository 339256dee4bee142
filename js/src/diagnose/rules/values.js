// What layers emit: output counts that overflow the loss. Mirrors Python's
// spikewidget/diagnose/rules/values.py; its other rules (non-binary spikes, count-valued
// input, NaN/Inf) are browser="fixed" and come from Python ready-made.

const pyMax = (a, b) => (b > a ? b : a);

export function checkOutputOverflow(layers, loss, th, { say, text, consts }) {
  const out = [];
  // Python's _loss_reads_no_counts: a loss that stayed below k ln C reads no counts
  const unread = consts.rules.output_overflow.constants.counts_unread_loss;
  if (loss && loss.count > 0 && !(loss.nonfinite > 0) && loss.chance !== null &&
      loss.chance !== undefined && Number.isFinite(loss.max) && loss.max <= unread * loss.chance) {
    return out;
  }
  for (const st of layers) {
    if (!st.countRange) continue; // Python sends a range for output layers only
    const [lo, hi] = st.countRange;
    const top = pyMax(Math.abs(lo), Math.abs(hi));
    let sev;
    if (top > th.output_count_critical) sev = "critical";
    else if (top > th.output_count_warning) sev = "warning";
    else continue;
    const limit = consts.rules.output_overflow.constants.float32_exp_limit;
    const values = { top, lo, hi, limit };
    if (loss && loss.count) values.loss_max = loss.max;
    values.effect = text("output_overflow", top > limit ? "float32" : "softmax", values);
    values.seen = !loss || !loss.count ? ""
      : text("output_overflow", loss.nonfinite > 0 ? "loss_nan" : "loss_finite", values);
    // binary spikes count up to one per step: such counts overflow for a long sequence
    values.steps = st.nSamples ? st.nObs / st.nSamples : 0;
    const fix = st.isBinary && !st.graded ? "rates" : "cause";
    out.push(say(sev, "output_overflow", st.name, "counts", fix, values));
  }
  return out;
}
