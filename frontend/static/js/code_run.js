// Live verification panel (closed division): follows the submission's code run (pushed, else polled) until the sandbox
// runs (verification, then concealed tasks) are over.
(function () {
  const root = document.getElementById("code-run");
  if (!root) return;
  const busy = new Set(["pending", "running"]);
  const el = (id) => document.getElementById(id);

  function size(bytes) {
    if (bytes === null || bytes === undefined) return "—";
    const units = ["bytes", "KB", "MB", "GB"];
    let value = bytes, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return (unit === 0 ? value : value.toFixed(1)) + " " + units[unit];
  }

  function render(data) {
    const status = el("code-run-status");
    status.textContent = data.status === "reproduced" ? "yes" : data.status === "not_reproduced" ? "no" : data.status_display;
    status.className = "status " + (data.status === "reproduced" ? "scored" : busy.has(data.status) ? "running" : "failed");
    const message = el("code-run-message");
    message.hidden = !data.message;
    message.textContent = data.message;
    el("code-run-time").textContent = data.wall_seconds === null ? "—"
      : data.wall_seconds.toFixed(2) + " s (CPU " + data.cpu_seconds.toFixed(2) + " s)";
    el("code-run-memory").textContent = size(data.peak_memory_bytes);
    el("code-run-stdout").textContent = data.stdout;
    el("code-run-stderr").textContent = data.stderr;
    const concealed = el("code-run-concealed");
    if (concealed && data.concealed) {
      const c = data.concealed;
      concealed.textContent = c.status === "scored" ? Number(c.score).toFixed(4) + " (mean over the concealed tasks)"
        : c.status ? c.status + (c.message ? ": " + c.message : "") : "not run";
    }
  }

  // Re-reads the run; true once the sandbox runs are over (live.js then stops following).
  async function refresh() {
    const response = await fetch(root.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return false;
    const data = await response.json();
    render(data);
    return !busy.has(data.status) && !(data.concealed && busy.has(data.concealed.status));
  }

  // Pushed on the submission's stream (shared with submission.js); polls every 2 s without it.
  refresh().catch(() => false).then((finished) => {
    if (!finished) window.DataperfLive.follow(root.dataset.live, "submission", refresh, 2000);
  });
})();
