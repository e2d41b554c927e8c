// The public view of a scored submission: read it once from the public API and hand it to the page's
// other scripts (curves.js draws the debugging curves from it). Nothing here changes any more.
(function () {
  const root = document.getElementById("submission");
  if (!root || !root.dataset.public) return;
  fetch(root.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : null))
    .then((data) => {
      if (!data) return;
      const details = document.getElementById("details");
      if (details) details.textContent = JSON.stringify(data.details, null, 2);
      root.dispatchEvent(new CustomEvent("submission:update", { detail: data }));
      const curves = document.getElementById("curves");
      if (curves && !(data.details && data.details[root.dataset.extrasKey])) {
        curves.replaceChildren();
        const p = document.createElement("p");
        p.className = "muted";
        p.textContent = "No curves were computed for this submission.";
        curves.appendChild(p);
      }
    });
})();
