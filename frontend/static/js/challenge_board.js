// Overall challenge leaderboard: per-benchmark normalised scores combined with user-adjustable
// weights. Re-ranking happens here in the browser, so slider moves are instant; the formula is the
// same as backend/leaderboards/selectors.py:weighted_aggregate.
(function () {
  const root = document.getElementById("overall");
  if (!root) return;
  const table = document.getElementById("overall-table");
  const weightsEl = document.getElementById("weights");
  let board = null;
  let weights = {};

  // A benchmark's raw score as its metric declares (counts as whole numbers); the aggregate gets four decimals.
  function fmt(value, column) {
    if (value === null || value === undefined) return "n/a";
    if (column && column.integer) return String(Math.round(Number(value)));
    const decimals = column && column.decimals !== undefined && column.decimals !== null ? column.decimals : 4;
    return Number(value).toFixed(decimals);
  }

  function aggregate(row) {
    let total = 0, sum = 0;
    for (const b of board.benchmarks) {
      const w = Math.max(weights[b.slug], 0);
      total += w;
      sum += w * (row.normalized[b.slug] || 0);
    }
    return total === 0 ? 0 : sum / total;
  }

  // The download links carry the current weights (?weights=slug:w,...); the server applies them with
  // the same normalisation (leaderboards.selectors.weighted_aggregate).
  function updateExportLinks() {
    const spec = board.hidden ? "" : board.benchmarks.map((b) => `${b.slug}:${weights[b.slug]}`).join(",");
    for (const id of ["export-csv", "export-json"]) {
      const link = document.getElementById(id);
      if (!link) continue;
      const url = new URL(link.href, window.location.href);
      if (spec) url.searchParams.set("weights", spec); else url.searchParams.delete("weights");
      link.href = url.pathname + url.search;
    }
  }

  function renderTable() {
    updateExportLinks();
    // A hidden board holds the viewer's own raw scores only: no rank, no aggregate (both are relative
    // to entrants the viewer may not see).
    const rows = board.rows.map((row) => ({ row, score: board.hidden ? null : aggregate(row) }));
    if (!board.hidden) rows.sort((a, b) => b.score - a.score || a.row.entrant.localeCompare(b.row.entrant));
    const head = document.createElement("tr");
    for (const text of ["#", "Entrant", "Aggregate"].concat(board.benchmarks.map((b) => b.title + (b.higher_is_better ? " ↑" : " ↓")))) {
      const th = document.createElement("th");
      th.textContent = text;
      head.appendChild(th);
    }
    table.tHead.replaceChildren(head);
    const body = table.tBodies[0];
    body.replaceChildren();
    rows.forEach(({ row, score }, index) => {
      const tr = document.createElement("tr");
      if (row.is_baseline) tr.className = "baseline";
      const cells = [board.hidden ? "—" : index + 1, row.entrant, fmt(score)].concat(board.benchmarks.map((b) => fmt(row.scores[b.slug], b)));
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    });
  }

  function renderSliders() {
    weightsEl.replaceChildren();
    for (const b of board.benchmarks) {
      const label = document.createElement("label");
      label.className = "weight";
      const input = document.createElement("input");
      Object.assign(input, { type: "range", min: "0", max: "5", step: "0.5", value: String(weights[b.slug]) });
      input.dataset.benchmark = b.slug;
      const value = document.createElement("span");
      value.textContent = weights[b.slug];
      input.addEventListener("input", () => {
        weights[b.slug] = Number(input.value);
        value.textContent = input.value;
        renderTable();
      });
      label.append(b.title + " ", input, value);
      weightsEl.appendChild(label);
    }
  }

  function resetWeights() {
    weights = Object.fromEntries(board.benchmarks.map((b) => [b.slug, b.weight]));
    if (board.hidden) {
      weightsEl.textContent = "The leaderboard is hidden in this phase: only your own scores are shown, without ranks.";
      renderTable();
      return;
    }
    renderSliders();
    renderTable();
  }

  async function load() {
    const response = await fetch(root.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return;
    // The server answers the browser's revalidation (ETag) with a 304 while the board is unchanged.
    const fresh = await response.json();
    if (board !== null && fresh.version === board.version) return;
    const first = board === null;
    board = fresh;
    if (first) resetWeights(); else renderTable();
  }

  document.getElementById("reset-weights").addEventListener("click", resetWeights);
  load();
  // Pushed (live.js): reload when a score lands, at most every 5 s (the board is large); polls every 10 s
  // without a stream.
  window.DataperfLive.follow(root.dataset.live, "leaderboard", load, 10000, 5000);
})();
