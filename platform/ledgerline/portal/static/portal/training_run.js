// A training run's page (needs api.js): its progress and loss curve, polled from the API address in
// #run-status's data-url; for members who write, the latent map's picks and the forms that make works.
const runUrl = document.getElementById("run-status").dataset.url;
// A symbolic model reports steps, training loss and validation NLL; a sound model epochs, its
// loss and the multi-resolution STFT loss of its reconstructions; a spectrogram model steps, its
// loss and the held-out v-prediction error.
const at = (p) => p.step ?? p.epoch, training = (p) => p.train_loss ?? p.loss, held = (p) => p.val_nll ?? p.mrstft ?? p.held_out;
function draw(curve) {
  const points = curve.filter((p) => training(p) != null);
  if (!points.length) return;
  const last = at(points[points.length - 1]) || 1;
  const values = points.flatMap((p) => [training(p), held(p)]).filter((v) => v != null);
  const top = Math.max(...values), bottom = Math.min(...values, 0);
  const line = (value) => points.filter((p) => value(p) != null)
    .map((p) => `${(800 * at(p) / last).toFixed(1)},${(195 - 190 * (value(p) - bottom) / ((top - bottom) || 1)).toFixed(1)}`).join(" ");
  document.getElementById("train-loss").setAttribute("points", line(training));
  document.getElementById("val-nll").setAttribute("points", line(held));
  const ppl = points[points.length - 1].val_ppl;
  if (ppl != null) document.getElementById("perplexity").textContent = `perplexity ${ppl.toFixed(2)}`;
}
async function watch() {
  const run = await (await fetch(runUrl)).json();
  const progress = run.progress || {}, status = document.getElementById("run-status");
  status.textContent = run.status;
  status.className = "badge " + ({succeeded: "pass", failed: "fail"}[run.status] || "");
  const done = progress.step ?? progress.epoch, total = progress.max_steps ?? progress.max_epochs;
  if (done) {
    document.getElementById("run-step").textContent = `${progress.step ? "step" : "epoch"} ${done}` + (total ? ` of ${total}` : "");
    if (total) document.getElementById("run-progress").value = done / total;
  }
  draw(progress.curve || []);
  if (run.error) { const failure = document.getElementById("run-failure"); failure.textContent = run.error; failure.hidden = false; }
  if (["queued", "running"].includes(run.status)) setTimeout(watch, 2000);
  else if (run.status === "succeeded" && !document.querySelector("#model table")) location.reload();
  else document.getElementById("run-progress").value = 1;
}
watch();

const ratio = document.getElementById("ratio");
if (ratio) ratio.addEventListener("input", () => { document.getElementById("ratio-value").value = ratio.value; });

// Picking two sounds to interpolate between: the button is there only for members who write.
const picked = [], interpolate = document.getElementById("interpolate");
if (interpolate) document.querySelectorAll("#latent-map .sound").forEach((sound) => {
  const pick = () => {
    if (picked.length === 2) picked.shift();
    picked.push(sound.dataset.name);
    document.querySelectorAll("#latent-map .sound circle").forEach((c) => c.setAttribute("fill", "#2f5bd3"));
    picked.forEach((name) => document.querySelector(`#latent-map .sound[data-name="${name}"] circle`).setAttribute("fill", "#cf222e"));
    document.getElementById("from").textContent = picked[0] || "(pick one)";
    document.getElementById("to").textContent = picked[1] || "(pick another)";
    interpolate.disabled = picked.length < 2;
  };
  sound.addEventListener("click", pick);
  sound.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") pick(); });
});
if (interpolate) interpolate.addEventListener("click", async () => {
  try {
    await apiPost("/api/v1/generations/", {title: `${picked[0]} to ${picked[1]}`, model: interpolate.dataset.model, count: 1,
                                           parameters: {between: picked, ratio: Number(ratio.value), rate: 44100}});
    location.href = "/works/";
  } catch (error) { showError(document.getElementById("interpolate-error"), error); }
});
const form = document.getElementById("generate-form");
if (form) form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = (id) => document.getElementById(id) && document.getElementById(id).value;
  const parameters = {};
  if (value("gen-temperature")) parameters.temperature = Number(value("gen-temperature"));
  if (value("gen-length")) parameters.length = Number(value("gen-length"));
  if (Number(value("gen-beams")) > 0) parameters.beams = Number(value("gen-beams"));
  if (value("gen-originality")) parameters.originality_max_run = Number(value("gen-originality"));
  if (value("gen-primer")) parameters.primer = value("gen-primer");
  if (document.getElementById("gen-prompt")) Object.assign(parameters, promptParameters(value));
  const body = {title: form.dataset.title, model: form.dataset.model, count: Number(value("gen-count")), parameters};
  if (value("gen-seed")) body.seed = Number(value("gen-seed"));
  try { await apiPost("/api/v1/generations/", body); location.href = "/works/"; }
  catch (error) { showError(document.getElementById("gen-error"), error); }
});

// A spectrogram model's prompt: its tags as buttons that add a word, a morph to a second prompt
// (a point between the two, or the whole way across the piece), and a variation's strength.
document.querySelectorAll("#gen-tags .tag").forEach((button) => button.addEventListener("click", () => {
  const prompt = document.getElementById("gen-prompt");
  const words = prompt.value.split(/[\s,]+/).filter(Boolean);
  if (!words.includes(button.dataset.tag)) prompt.value = [...words, button.dataset.tag].join(" ");
}));
for (const name of ["gen-ratio", "gen-strength"]) {
  const slider = document.getElementById(name);
  if (slider) slider.addEventListener("input", () => { document.getElementById(`${name}-value`).value = slider.value; });
}
function promptParameters(value) {
  const parameters = {prompt: value("gen-prompt"), seconds: Number(value("gen-seconds")),
                      steps: Number(value("gen-steps")), guidance: Number(value("gen-guidance"))};
  if (value("gen-morph").trim()) {
    parameters.morph = value("gen-morph");
    if (!document.getElementById("gen-travel").checked) parameters.ratio = Number(value("gen-ratio"));
  }
  if (value("gen-variation")) {
    parameters.variation = value("gen-variation");
    parameters.strength = Number(value("gen-strength"));
  }
  return parameters;
}
