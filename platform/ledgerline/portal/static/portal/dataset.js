// A dataset's page (for members who write; needs api.js and vendor/tus.min.js). Each chosen file is
// a resumable tus upload to the API with this session, up to three at once, each with its own bar
// and outcome; a file whose upload was cut off (a reload, a lost connection) picks up where the
// server stopped when the same file is chosen again. The forms carry their API addresses in data-*.
const failure = document.getElementById("upload-error");
const uploadForm = document.getElementById("upload-form"), freezeForm = document.getElementById("freeze-form");
const endpoint = uploadForm.dataset.endpoint, datasetId = uploadForm.dataset.dataset;
const PARALLEL = 3, CHUNK_BYTES = 32 * 1024 * 1024, RETRY_DELAYS = [0, 1000, 3000, 5000];

// The uploads of this dataset that this browser started and never finished, as tus-js-client
// stored them (localStorage), each with the server's record of it ({filename, offset, length}).
async function interruptedUploads() {
  const stored = await tus.defaultOptions.urlStorage.findAllUploads();
  const mine = stored.filter((entry) => entry.metadata && entry.metadata.dataset === datasetId);
  const records = await Promise.all(mine.map(async (entry) => {
    const record = await uploadRecord(entry.uploadUrl);
    if (record && record.state === "receiving") return record;
    await tus.defaultOptions.urlStorage.removeUpload(entry.urlStorageKey);
    return null;
  }));
  return records.filter(Boolean);
}

async function interruptedShow() {
  const records = await interruptedUploads(), notice = document.getElementById("upload-interrupted");
  notice.hidden = !records.length;
  if (!records.length) return;
  notice.querySelector("p").textContent = `${records.length} upload${records.length === 1 ? " was" : "s were"} interrupted: choose the same files to resume them.`;
  notice.querySelector("ul").replaceChildren(...records.map((record) => {
    const item = document.createElement("li");
    item.textContent = `${record.filename}: ${Math.floor(100 * record.offset / Math.max(record.length, 1))}%`;
    return item;
  }));
}

// One row of the list under the form: the file's name, its bar and what became of it.
function fileRow(file) {
  const item = document.createElement("li"), name = document.createElement("span");
  const bar = document.createElement("progress"), status = document.createElement("span");
  name.textContent = file.name;
  bar.max = 100; bar.value = 0; bar.setAttribute("aria-label", file.name);
  status.className = "muted"; status.textContent = "waiting";
  item.dataset.file = file.name;
  item.append(name, bar, status);
  document.getElementById("upload-files").append(item);
  return {item, bar, status};
}

// Forgets this upload in the browser's storage, so that choosing the file again starts afresh.
async function fingerprintRemove(upload) {
  const storage = tus.defaultOptions.urlStorage;
  const fingerprint = await tus.defaultOptions.fingerprint(upload.file, upload.options);
  const entries = await storage.findUploadsByFingerprint(fingerprint);
  await Promise.all(entries.filter((e) => e.uploadUrl === upload.url).map((e) => storage.removeUpload(e.urlStorageKey)));
}

const statusOf = (error) => (error.originalResponse ? error.originalResponse.getStatus() : 0);
// Retried with a pause: a lost connection, a server error, an upload another request is writing to.
// A 409 is not: it means either "send from another offset" or "already in the dataset" (see fileSend).
const retryable = (error) => { const s = statusOf(error); return (!s || s >= 500 || s === 423) && navigator.onLine; };

// The upload as the server has it ({state, offset, ...}), or null when it has none.
async function uploadRecord(url) {
  const response = await fetch(url, {headers: {Accept: "application/json"}});
  return response.ok ? response.json() : null;
}

// Sends one file; resolves with null once the dataset has it, or with the reason it is not there: the
// server's refusal (forgotten here: sending it again starts afresh) or a connection lost (kept, to resume).
function fileSend(file, fields, row, progressed) {
  return new Promise((resolve) => {
    let resyncs = 0;
    const upload = new tus.Upload(file, {
      endpoint, chunkSize: CHUNK_BYTES, retryDelays: RETRY_DELAYS, onShouldRetry: retryable, removeFingerprintOnSuccess: true,
      metadata: {dataset: datasetId, filename: file.name, ...fields},
      headers: {"X-CSRFToken": csrf},
      onProgress: (sent, total) => { row.bar.value = 100 * sent / Math.max(total, 1); progressed(file, sent); },
      onSuccess: () => { row.bar.value = 100; row.status.textContent = "added"; row.item.dataset.outcome = "added"; progressed(file, file.size); resolve(null); },
      onError: async (error) => {
        const response = error.originalResponse, status = statusOf(error);
        if (status === 409 && upload.url && resyncs < 3 && (await uploadRecord(upload.url) || {}).state === "receiving") {
          resyncs += 1; upload.start(); return;  // at another offset than we thought: start() asks the server (HEAD)
        }
        const refused = status >= 400 && status < 500 && status !== 423, reason = apiMessage(response ? response.getBody() : "", status);
        if (refused && upload.url) await fingerprintRemove(upload);
        row.status.textContent = refused ? `refused: ${reason}` : `interrupted: ${reason} Choose the file again to resume.`;
        row.status.className = "error"; row.item.dataset.outcome = refused ? "refused" : "interrupted";
        resolve(reason);
      },
    });
    upload.findPreviousUploads().then((previous) => {
      if (previous.length) { upload.resumeFromPreviousUpload(previous[0]); row.status.textContent = "resuming"; }
      else row.status.textContent = "sending";
      upload.start();
    });
  });
}

// The files table as the server has it now (the page's own HTML, fetched again).
async function filesRefresh() {
  const html = await (await fetch(location.href)).text();
  const fresh = new DOMParser().parseFromString(html, "text/html").querySelector("#files-table tbody");
  document.querySelector("#files-table tbody").replaceWith(fresh);
}

uploadForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const chosen = Array.from(document.getElementById("files").files);
  if (!chosen.length) { showError(failure, new Error("Choose one or more files first.")); return; }
  const fields = {};
  for (const name of ["tags", "caption"]) {
    const value = document.getElementById(`upload-${name}`).value.trim();
    if (value) fields[name] = value;
  }
  const overall = document.getElementById("progress"), status = document.getElementById("upload-status");
  const button = document.getElementById("upload-button"), sent = new Map();
  const total = chosen.reduce((sum, file) => sum + file.size, 0);
  const progressed = (file, bytes) => { sent.set(file, bytes); overall.value = 100 * [...sent.values()].reduce((a, b) => a + b, 0) / Math.max(total, 1); };
  document.getElementById("upload-files").replaceChildren();
  overall.value = 0; overall.hidden = false; failure.hidden = true; button.disabled = true;
  status.textContent = `Sending ${chosen.length} file${chosen.length === 1 ? "" : "s"}…`;
  const queue = chosen.map((file) => [file, fileRow(file)]), refusals = [];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [file, row] = next, reason = await fileSend(file, fields, row, progressed);
      if (reason) refusals.push(`${file.name}: ${reason}`);
    }
  };
  await Promise.all(Array.from({length: Math.min(PARALLEL, queue.length)}, worker));
  await Promise.all([filesRefresh(), interruptedShow()]);
  const added = chosen.length - refusals.length;
  status.textContent = `Done: ${added} added${refusals.length ? `, ${refusals.length} not added` : ""}.`;
  if (refusals.length) showError(failure, new Error(refusals.join(" · ")));
  button.disabled = false;
});
freezeForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  try { await apiPost(freezeForm.dataset.url, {}); location.reload(); }
  catch (error) { showError(failure, error); }
});
interruptedShow();
