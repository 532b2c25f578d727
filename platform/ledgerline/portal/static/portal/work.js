// A work's page (for members who write; needs api.js): variations of the work, made by its model
// from the work's own audio, with a prompt and a strength.
const vary = document.getElementById("vary-form"), strength = document.getElementById("vary-strength");
strength.addEventListener("input", () => { document.getElementById("vary-strength-value").value = strength.value; });
vary.addEventListener("submit", async (event) => {
  event.preventDefault();
  const parameters = {variation: vary.dataset.source, strength: Number(strength.value),
                      prompt: document.getElementById("vary-prompt").value};
  const body = {title: `${vary.dataset.title} (variation)`, model: vary.dataset.model,
                count: Number(document.getElementById("vary-count").value), parameters};
  try { await apiPost("/api/v1/generations/", body); location.href = "/works/"; }
  catch (error) { showError(document.getElementById("vary-error"), error); }
});
