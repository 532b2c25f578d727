// Starting a training run (for members who write; needs api.js): the fields that apply to the
// chosen model's family (the settings its option lists), each slider's value beside it, and the
// run's config sent to the API.
const field = (id) => document.getElementById(id);
const learningRate = () => Number((10 ** Number(field("run-lr").value)).toPrecision(2));
const settings = () => new Set(field("run-model").selectedOptions[0].dataset.settings.trim().split(/\s+/));
function shown() {  // the fields that apply to the chosen model, and each slider's value beside it
  const base = field("run-base").selectedOptions[0];
  const continuing = base.value !== "";
  if (continuing) field("run-model").value = base.dataset.model;  // a continued model keeps its family
  field("run-model").disabled = continuing;
  field("run-base-note").hidden = !continuing;
  const has = settings();
  const epochs = has.has("epochs");  // the slider sets epochs where the family counts them, else steps
  field("run-steps-label").textContent = epochs ? "Epochs" : "Steps";
  field("run-steps").max = epochs ? "200" : "2000";  // may lower the value: shown after
  field("run-shape").hidden = !has.has("latent") || continuing;
  field("run-tiny-field").hidden = !has.has("tiny");
  for (const id of ["run-steps", "run-batch", "run-latent", "run-channels"]) field(`${id}-out`).value = field(id).value;
  field("run-lr-out").value = learningRate();
  field("run-lr").setAttribute("aria-valuetext", String(learningRate()));
}
for (const id of ["run-base", "run-model", "run-steps", "run-batch", "run-lr", "run-latent", "run-channels"]) {
  field(id).addEventListener("input", shown);
}
shown();
field("run-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const base = field("run-base").value, config = {model: field("run-model").value}, has = settings();
  const number = (id) => Number(field(id).value);
  const steps = number("run-steps");
  Object.assign(config, {batch_size: number("run-batch"), lr: learningRate()});
  if (has.has("epochs")) config.epochs = steps;
  else config.max_steps = steps;
  if (has.has("eval_every")) config.eval_every = Math.max(1, Math.floor(steps / 10));
  if (has.has("tokenizer")) config.tokenizer = "chorale";
  if (has.has("tiny") && field("run-tiny").checked) config.tiny = true;
  if (has.has("latent") && !base) Object.assign(config, {latent: number("run-latent"), channels: number("run-channels")});
  const versions = [...field("run-versions").selectedOptions].map((o) => o.value);
  const body = {name: field("run-name").value, config, dataset_versions: versions};
  if (base) body.base_model = base;
  try {
    const run = await apiPost("/api/v1/training-runs/", body);
    location.href = `/training-runs/${run.id}/`;
  } catch (error) { showError(field("run-error"), error); }
});
