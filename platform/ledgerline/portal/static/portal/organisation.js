// An organisation's page (for its admins; needs api.js): rotate the signing key, at the form's data-url.
const rotateForm = document.getElementById("rotate-form");
rotateForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!confirm("Retire the active key and make a new one?")) return;
  try { await apiPost(rotateForm.dataset.url, {}); location.reload(); }
  catch (error) { showError(document.getElementById("rotate-error"), error); }
});
