// Starting a training run (for members who write; needs api.js): the fields that apply to the
// chosen model's family (the settings its option lists), each slider's value beside it, and the
// run's config sent to the API.
const field = (id) => document.getElementById(id);
const learningRate = () => Number((10 ** Number(field("run-lr").value)).toPrecision(2));
// The chosen family's "More settings" fields; an empty one is left to the model's default.
const moreFields = () => [...document.querySelectorAll(`.run-more[data-family="${field("run-model").value}"] [data-setting]`)];
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
  field("run-steps-field").hidden = !has.has("epochs") && !has.has("max_steps");
  field("run-batch-field").hidden = !has.has("batch_size");
  field("run-lr-field").hidden = !has.has("lr");
  for (const more of document.querySelectorAll(".run-more")) more.hidden = more.dataset.family !== field("run-model").value;
  field("run-more").hidden = !moreFields().length;
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
  if (has.has("batch_size")) config.batch_size = number("run-batch");
  if (has.has("lr")) config.lr = learningRate();
  if (has.has("epochs")) config.epochs = steps;
  else if (has.has("max_steps")) config.max_steps = steps;
  if (has.has("eval_every")) config.eval_every = Math.max(1, Math.floor(steps / 10));
  if (has.has("tokenizer")) config.tokenizer = "chorale";
  if (has.has("tiny") && field("run-tiny").checked) config.tiny = true;
  if (has.has("latent") && !base) Object.assign(config, {latent: number("run-latent"), channels: number("run-channels")});
  for (const input of moreFields()) {
    if (input.dataset.kind === "bool") config[input.dataset.setting] = input.checked;
    else if (input.value !== "") config[input.dataset.setting] = input.dataset.kind === "str" ? input.value : Number(input.value);
  }
  const versions = [...field("run-versions").selectedOptions].map((o) => o.value);
  const body = {name: field("run-name").value, config, dataset_versions: versions};
  if (base) body.base_model = base;
  try {
    const run = await apiPost("/api/v1/training-runs/", body);
    location.href = `/training-runs/${run.id}/`;
  } catch (error) { showError(field("run-error"), error); }
});
