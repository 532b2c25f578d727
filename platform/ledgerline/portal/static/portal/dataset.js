// A dataset's page (for members who write; needs api.js). Uploads go to the API with this session;
// the progress bar follows the bytes sent. The forms carry their API addresses in data-url.
const failure = document.getElementById("upload-error");
const uploadForm = document.getElementById("upload-form"), freezeForm = document.getElementById("freeze-form");
uploadForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const chosen = document.getElementById("files").files;
  if (!chosen.length) { showError(failure, new Error("Choose one or more files first.")); return; }
  const body = new FormData();
  for (const file of chosen) body.append("file", file);
  for (const name of ["tags", "caption"]) {
    const value = document.getElementById(`upload-${name}`).value.trim();
    if (value) body.append(name, value);
  }
  const request = new XMLHttpRequest(), progress = document.getElementById("progress");
  progress.hidden = false; failure.hidden = true;
  request.upload.addEventListener("progress", (e) => { if (e.lengthComputable) progress.value = 100 * e.loaded / e.total; });
  request.addEventListener("load", () => {
    if (request.status === 201) { document.getElementById("upload-status").textContent = "Added."; location.reload(); }
    else { progress.hidden = true; showError(failure, new Error(apiMessage(request.responseText, request.status))); }
  });
  request.addEventListener("error", () => { progress.hidden = true; showError(failure, new Error(apiMessage(""))); });
  request.open("POST", uploadForm.dataset.url);
  request.setRequestHeader("X-CSRFToken", csrf);
  request.send(body);
});
freezeForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  try { await apiPost(freezeForm.dataset.url, {}); location.reload(); }
  catch (error) { showError(failure, error); }
});
