// The API, from a signed-in page: the session's cookie and its CSRF token.
const csrf = (document.querySelector("[name=csrfmiddlewaretoken]") || {}).value;
async function apiPost(url, body) {
  const response = await fetch(url, {method: "POST", body: JSON.stringify(body),
    headers: {"X-CSRFToken": csrf, "Content-Type": "application/json"}});
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((data.error && data.error.message) || `The request failed (${response.status}).`);
  return data;
}
function showError(element, error) { element.textContent = error.message || String(error); element.hidden = false; }
