// The API, from a signed-in page: the session's cookie and its CSRF token.
const csrf = (document.querySelector("[name=csrfmiddlewaretoken]") || {}).value;
// The message of an API error body ({"error": {"message": ...}}), or a plain one.
function apiMessage(text, status) {
  try { return JSON.parse(text).error.message; } catch (e) { return `The request failed (${status || "no answer"}).`; }
}
async function apiPost(url, body) {
  const response = await fetch(url, {method: "POST", body: JSON.stringify(body),
    headers: {"X-CSRFToken": csrf, "Content-Type": "application/json"}});
  const text = await response.text();
  if (!response.ok) throw new Error(apiMessage(text, response.status));
  return JSON.parse(text);
}
function showError(element, error) { element.textContent = error.message || String(error); element.hidden = false; }
