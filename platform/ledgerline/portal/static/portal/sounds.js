// Sound design on a dataset (needs api.js): the group filter, the groups' colours, and for members
// who write, the frequency slider's value and a take recorded from the microphone.
document.getElementById("group-filter").addEventListener("change", (event) => event.target.form.submit());
// A colour from the server as a style attribute would need 'unsafe-inline' styles: set it here.
document.querySelectorAll("[data-colour]").forEach((badge) => { badge.style.background = badge.dataset.colour; });
const frequency = document.getElementById("freq");
if (frequency) frequency.addEventListener("input", () => { frequency.nextElementSibling.value = frequency.value; });

// Recorded as PCM and written as a 16-bit WAV here: Ledgerline reads WAV, not the WebM MediaRecorder makes.
function wav(samples, rate) {
  const data = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const text = (at, s) => [...s].forEach((c, i) => data.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF"); data.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVEfmt ");
  data.setUint32(16, 16, true); data.setUint16(20, 1, true); data.setUint16(22, 1, true);
  data.setUint32(24, rate, true); data.setUint32(28, rate * 2, true); data.setUint16(32, 2, true);
  data.setUint16(34, 16, true); text(36, "data"); data.setUint32(40, samples.length * 2, true);
  samples.forEach((v, i) => data.setInt16(44 + i * 2, Math.max(-1, Math.min(1, v)) * 0x7fff, true));
  return new Blob([data], {type: "audio/wav"});
}
const recordForm = document.getElementById("record-form");
if (recordForm) recordForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = document.getElementById("record-status"), failure = document.getElementById("record-error");
  try {
    const seconds = Number(document.getElementById("record-seconds").value);
    const stream = await navigator.mediaDevices.getUserMedia({audio: true});
    const context = new AudioContext(), source = context.createMediaStreamSource(stream);
    const recorder = context.createScriptProcessor(4096, 1, 1), chunks = [];
    recorder.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    source.connect(recorder); recorder.connect(context.destination);
    status.textContent = "Recording...";
    await new Promise((done) => setTimeout(done, seconds * 1000));
    recorder.disconnect(); source.disconnect(); stream.getTracks().forEach((t) => t.stop());
    const samples = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
    chunks.reduce((at, c) => { samples.set(c, at); return at + c.length; }, 0);
    const body = new FormData(), group = document.getElementById("record-group").value || "voice";
    body.append("file", wav(samples, context.sampleRate), "take.wav");
    body.append("path", `${group}/take-${Date.now()}.wav`);
    status.textContent = "Uploading...";
    const response = await fetch(recordForm.dataset.url, {method: "POST", body, headers: {"X-CSRFToken": csrf}});
    if (response.status !== 201) throw new Error(apiMessage(await response.text(), response.status));
    await context.close();
    location.reload();
  } catch (error) { status.textContent = ""; showError(failure, error); }
});
