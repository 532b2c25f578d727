// Dropping a file onto the page submits it: the same form, no framework.
const form = document.getElementById("verify-form"), drop = document.getElementById("drop");
const input = document.getElementById("file"), status = document.getElementById("status");
const send = () => { status.textContent = "Checking every link..."; form.submit(); };
["dragenter", "dragover"].forEach((name) => document.addEventListener(name, (event) => {
  event.preventDefault(); drop.classList.add("over"); }));
["dragleave", "dragend"].forEach((name) => document.addEventListener(name, () => drop.classList.remove("over")));
document.addEventListener("drop", (event) => {
  event.preventDefault(); drop.classList.remove("over");
  if (event.dataTransfer.files.length) { input.files = event.dataTransfer.files; send(); }
});
input.addEventListener("change", () => { if (input.files.length) send(); });
