// The datasets page (for members who write; needs api.js): a new dataset, then its page.
document.getElementById("dataset-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const allowed = document.getElementById("dataset-consent").checked ? "allowed" : "notAllowed";
  try {
    const created = await apiPost("/api/v1/datasets/", {name: document.getElementById("dataset-name").value,
      licence_spdx: document.getElementById("dataset-licence").value,
      consent: {"cawg.ai_training": allowed, "cawg.ai_generative_training": allowed}});
    location.href = `/datasets/${created.id}/`;
  } catch (error) { showError(document.getElementById("dataset-error"), error); }
});
