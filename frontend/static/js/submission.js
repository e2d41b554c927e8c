// Live submission status: follows the submission (pushed, else polled) until it is scored, failed or cancelled.
(function () {
  const root = document.getElementById("submission");
  if (!root) return;
  const terminal = new Set(["scored", "failed", "cancelled"]);
  const statusEl = document.getElementById("status");
  const progressEl = document.getElementById("progress");
  const messageEl = document.getElementById("progress-message");
  const failureEl = document.getElementById("failure");
  const scoresEl = document.getElementById("scores");
  const detailsEl = document.getElementById("details");

  // Provenance of the scores (same order as the server-rendered table).
  const environmentEl = document.getElementById("environment");
  const environmentKeys = ["environment", "evaluator", "python", "scikit-learn", "numpy", "scipy", "torch"];
  function renderEnvironment(environment) {
    if (!environmentEl || Object.keys(environment).length === 0) return;
    const keys = environmentKeys.filter((k) => k in environment)
      .concat(Object.keys(environment).filter((k) => !environmentKeys.includes(k)).sort());
    const body = environmentEl.tBodies[0];
    body.replaceChildren();
    for (const key of keys) {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.textContent = key;
      const td = document.createElement("td");
      td.textContent = environment[key] === null ? "not installed" : environment[key];
      tr.append(th, td);
      body.appendChild(tr);
    }
  }

  function render(data) {
    statusEl.textContent = data.status.charAt(0).toUpperCase() + data.status.slice(1);
    statusEl.className = "status " + data.status;
    progressEl.value = data.progress;
    messageEl.textContent = data.status === "running" ? data.progress_message : "";
    failureEl.hidden = !data.failure_reason;
    failureEl.textContent = data.failure_reason;
    const body = scoresEl.tBodies[0];
    body.replaceChildren();
    // The server formats each score by its metric (decimals, counts as whole numbers); the exact value is the tooltip.
    const rows = data.score_rows || Object.entries(data.scores).map(([key, value]) => ({ label: key, value: value, text: value === null ? "n/a" : String(value) }));
    for (const row of rows) {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.textContent = row.label;
      const td = document.createElement("td");
      td.className = "num";
      td.textContent = row.text;
      td.title = row.value === null ? "" : String(row.value);
      tr.append(th, td);
      body.appendChild(tr);
    }
    detailsEl.textContent = JSON.stringify(data.details, null, 2);
    renderEnvironment(data.environment || {});
    root.dispatchEvent(new CustomEvent("submission:update", { detail: data }));
  }

  // Some benchmark types add slower extras (plot curves) after scoring: keep polling for them a while.
  const extrasKey = root.dataset.extrasKey;
  let extraPolls = 0;
  function done(data) {
    if (!terminal.has(data.status)) return false;
    if (data.status !== "scored" || !extrasKey || (data.details && data.details[extrasKey])) return true;
    return ++extraPolls > 120;
  }

  // Re-reads the submission; true once nothing more will change (live.js then stops following).
  async function refresh() {
    const response = await fetch(root.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return false;
    const data = await response.json();
    render(data);
    return done(data);
  }

  // Pushed: the server says when the status, progress or extras change; polls every 1.5 s without a stream.
  refresh().catch(() => false).then((finished) => {
    if (!finished) window.DataperfLive.follow(root.dataset.live, "submission", refresh, 1500, 250);
  });
})();
