// The membrane potentials: a layer whose voltages collapsed onto one value. Mirrors
// Python's spikewidget/diagnose/rules/voltages.py.

// Neurons whose voltage is frozen in time (per-neuron std over time below
// voltage_collapse_std), as Python's check_voltage_collapse.
export function checkVoltageCollapse(layers, loss, th, { say }) {
  const out = [];
  for (const st of layers) {
    const spread = st.voltageTimeStd;
    if (!st.hasVoltages || st.nSteps < th.voltage_collapse_min_steps || !spread) continue;
    let known = 0;
    let frozen = 0;
    for (let i = 0; i < spread.length; i++) {
      const v = spread[i];
      if (v !== v) continue;
      known++;
      if (v < th.voltage_collapse_std) frozen++;
    }
    if (!frozen || frozen / known < th.voltage_collapse_fraction) continue;
    out.push(say("warning", "voltage_collapse", st.name, "frozen", "current",
      { frozen, known, share: frozen / known, steps: st.nSteps, mean: st.voltageMean }));
  }
  return out;
}
