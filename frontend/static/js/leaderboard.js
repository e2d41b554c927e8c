// Live leaderboard: asks the server for the board's version every few seconds and re-renders
// only when a score has landed (the server answers {changed: false} otherwise).
(function () {
  const table = document.getElementById("leaderboard");
  if (!table) return;
  const status = document.getElementById("leaderboard-status");
  const baseUrl = table.dataset.url;
  let version = null;

  // Counts (columns marked integer, e.g. fooling items) are whole numbers; scores get four decimals.
  function fmt(value, integer) {
    if (value === null || value === undefined) return "n/a";
    return integer ? String(Math.round(Number(value))) : Number(value).toFixed(4);
  }

  // Closed division: only rows whose code reproduced the submitted file are ranked.
  function division(row) {
    if (row.division !== "closed") return row.division;
    if (row.reproduced) return "closed ✓";
    if (row.verification === "pending" || row.verification === "running") return "closed … verifying";
    return "closed ✗ not reproduced";
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  // Which library versions produced the row's scores (a board may mix environments until re-scored).
  function environment(row) {
    const td = cell(row.environment || "—", "environment");
    const versions = row.environment_versions || {};
    td.title = Object.keys(versions).sort().map((k) => k + " " + (versions[k] || "—")).join(", ");
    return td;
  }

  function render(data) {
    const body = table.tBodies[0];
    body.replaceChildren();
    if (data.rows.length === 0) {
      const tr = document.createElement("tr");
      const td = cell("No scored submissions yet.", "muted");
      td.colSpan = data.columns.length + 5;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    for (const row of data.rows) {
      const tr = document.createElement("tr");
      tr.dataset.submission = row.submission_id;
      if (row.is_baseline) tr.className = "baseline";
      tr.appendChild(cell(row.rank === null ? "—" : row.rank));
      tr.appendChild(cell(row.entrant));
      for (const column of data.columns) {
        let text = fmt(row.metrics[column.key], column.integer);
        if (row.spreads && row.spreads[column.key] !== undefined && row.spreads[column.key] !== null) {
          text += " ± " + fmt(row.spreads[column.key]);
        }
        tr.appendChild(cell(text, "num"));
      }
      tr.appendChild(cell(division(row), row.reproduced === false ? "muted" : ""));
      tr.appendChild(environment(row));
      tr.appendChild(cell(row.submitted_at.slice(0, 16).replace("T", " ")));
      body.appendChild(tr);
    }
  }

  async function refresh() {
    const sep = baseUrl.includes("?") ? "&" : "?";
    const url = version === null ? baseUrl : baseUrl + sep + "since=" + version;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      const data = await response.json();
      if (!response.ok) {
        status.textContent = data.detail || "The leaderboard could not be loaded.";
        return;
      }
      if (data.changed) {
        render(data);
        status.textContent = (data.hidden ? "The leaderboard is hidden in this phase: only your own rows, without ranks. " : "")
          + "Updated " + new Date().toLocaleTimeString();
      }
      version = data.version;
    } catch (error) {
      status.textContent = "Offline; retrying…";
    }
  }

  refresh();
  // Pushed: refresh when the server says the board changed (live.js); polls every 3 s without a stream.
  window.DataperfLive.follow(table.dataset.live, "leaderboard", refresh, 3000);
})();
