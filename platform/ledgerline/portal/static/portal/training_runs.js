// Starting a training run (for members who write; needs api.js): the fields that apply to the
// chosen model, each slider's value beside it, and the run's config sent to the API.
const field = (id) => document.getElementById(id);
const learningRate = () => Number((10 ** Number(field("run-lr").value)).toPrecision(2));
function shown() {  // the fields that apply to the chosen model, and each slider's value beside it
  const continuing = field("run-base").value !== "";
  if (continuing) field("run-model").value = "audio";
  field("run-model").disabled = continuing;
  field("run-base-note").hidden = !continuing;
  const audio = field("run-model").value === "audio";
  field("run-steps-label").textContent = audio ? "Epochs" : "Steps";
  field("run-steps").max = audio ? "200" : "2000";  // may lower the value: shown after
  field("run-shape").hidden = !audio || continuing;
  field("run-tiny-field").hidden = audio;
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
  const model = field("run-model").value, base = field("run-base").value, config = {model};
  const number = (id) => Number(field(id).value);
  if (model === "audio") {
    Object.assign(config, {epochs: number("run-steps"), batch_size: number("run-batch"), lr: learningRate()});
    if (!base) Object.assign(config, {latent: number("run-latent"), channels: number("run-channels")});
  }
  else {
    Object.assign(config, {max_steps: number("run-steps"), batch_size: number("run-batch"), lr: learningRate(),
                           tokenizer: "chorale", eval_every: Math.max(1, Math.floor(number("run-steps") / 10))});
    if (field("run-tiny").checked) config.tiny = true;
  }
  const versions = [...field("run-versions").selectedOptions].map((o) => o.value);
  const body = {name: field("run-name").value, config, dataset_versions: versions};
  if (base) body.base_model = base;
  try {
    const run = await apiPost("/api/v1/training-runs/", body);
    location.href = `/training-runs/${run.id}/`;
  } catch (error) { showError(field("run-error"), error); }
});
