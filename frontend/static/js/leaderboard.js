// Live leaderboard, one page at a time (50 rows). refresh() asks whether anything changed since the
// version on screen (`?since=`: {changed: false}, or only the changed rows) and reloads the page shown
// and the viewer's own row when it did. Pages are cached by the server per version and carry an ETag,
// so the browser revalidates them with a 304. Another source of change notices (server push) can call
// window.dataperfLeaderboard.refresh().
(function () {
  const table = document.getElementById("leaderboard");
  if (!table) return;
  const status = document.getElementById("leaderboard-status");
  const pager = document.getElementById("leaderboard-pager");
  const own = document.getElementById("leaderboard-own");
  const searchBox = document.getElementById("leaderboard-search");
  const baseUrl = table.dataset.url;
  const signedIn = table.dataset.signedIn === "1";
  const PAGE_SIZE = 50;
  let version = null;
  let page = 1;
  let pages = 1;
  let busy = false;
  let search = "";  // the entrant search shown (pages and live refreshes keep it)
  let generation = 0;  // answers to an older search are dropped

  function url(params) {
    const query = new URLSearchParams(params).toString();
    return baseUrl + (baseUrl.includes("?") ? "&" : "?") + query;
  }

  async function getJson(address) {
    const response = await fetch(address, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const data = await response.json();
    return { ok: response.ok, status: response.status, data: data };
  }

  // Counts (columns marked integer, e.g. fooling items) are whole numbers; scores get their metric's
  // decimals (`column.decimals`, four by default).
  function fmt(value, integer, decimals) {
    if (value === null || value === undefined) return "n/a";
    if (integer) return String(Math.round(Number(value)));
    return Number(value).toFixed(decimals === undefined || decimals === null ? 4 : decimals);
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

  function rowElement(row, columns) {
    const tr = document.createElement("tr");
    tr.dataset.submission = row.submission_id;
    if (row.is_baseline) tr.className = "baseline";
    tr.appendChild(cell(row.rank === null ? "—" : row.rank));
    // The entrant links to the submission's page when the viewer may open it (the server says so).
    const name = cell("");
    if (row.detail_url) {
      const a = document.createElement("a");
      a.href = row.detail_url;
      a.textContent = row.entrant;
      a.title = "Submission details";
      name.appendChild(a);
    } else name.textContent = row.entrant;
    tr.appendChild(name);
    for (const column of columns) {
      let text = fmt(row.metrics[column.key], column.integer, column.decimals);
      if (row.spreads && row.spreads[column.key] !== undefined && row.spreads[column.key] !== null) {
        text += " ± " + fmt(row.spreads[column.key], column.integer, column.decimals);
      }
      tr.appendChild(cell(text, "num"));
    }
    tr.appendChild(cell(division(row), row.reproduced === false ? "muted" : ""));
    tr.appendChild(environment(row));
    tr.appendChild(cell(row.submitted_at ? row.submitted_at.slice(0, 16).replace("T", " ") : "—"));
    return tr;
  }

  function render(data) {
    const body = table.tBodies[0];
    body.replaceChildren();
    if (data.rows.length === 0) {
      const tr = document.createElement("tr");
      const td = cell(data.page > 1 ? "No rows on this page."
        : (data.search ? "No entrant matches “" + data.search + "”." : "No scored submissions yet."), "muted");
      td.colSpan = data.columns.length + 5;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    for (const row of data.rows) body.appendChild(rowElement(row, data.columns));
    pages = data.pages || 1;
    pager.hidden = data.hidden || (pages <= 1 && !data.search);
    pager.querySelector("span").textContent = "page " + page + " of " + pages
      + (data.count !== null ? " · " + data.count + (data.search ? " matching" : "") + " entrants" : "");
    pager.querySelector("[data-go=prev]").disabled = page <= 1;
    pager.querySelector("[data-go=next]").disabled = page >= pages;
  }

  // The viewer's own row (with its rank) when it is not on the page shown.
  async function showOwn(data) {
    if (!signedIn || data.hidden) { own.hidden = true; return; }
    const shown = new Set(data.rows.map((r) => r.submission_id));
    const answer = await getJson(url({ around: "me", page_size: 1 }));
    const row = answer.ok && answer.data.my_position && answer.data.rows.length ? answer.data.rows[0] : null;
    if (!row || shown.has(row.submission_id)) { own.hidden = true; return; }
    const primary = data.columns[0] || {};
    own.querySelector("span").textContent = (row.rank === null ? "unranked" : "#" + row.rank) + " · " + row.entrant + " · " + fmt(row.score, primary.integer, primary.decimals);
    own.hidden = false;
  }

  async function load(params) {
    const mine = generation;
    const query = params || { page: page, page_size: PAGE_SIZE };
    if (search && !query.around) query.search = search;
    const answer = await getJson(url(query));
    if (mine !== generation) return;  // the search changed meanwhile; its own load shows the answer
    if (!answer.ok) {
      status.textContent = answer.data.detail || "The leaderboard could not be loaded.";
      return;
    }
    page = answer.data.page || 1;
    version = answer.data.version;
    render(answer.data);
    await showOwn(answer.data);
    status.textContent = (answer.data.hidden ? "The leaderboard is hidden in this phase: only your own rows, without ranks. " : "")
      + "Updated " + new Date().toLocaleTimeString();
  }

  // The one entry point for "something may have changed" (the timer below, or a pushed notice).
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      if (version === null) {
        await load();
        return;
      }
      const answer = await getJson(url({ since: version }));
      if (answer.status === 400) {  // not a version of this board any more (e.g. its visibility changed)
        version = null;
        await load();
        return;
      }
      if (answer.ok && answer.data.changed) await load();
    } catch (error) {
      status.textContent = "Offline; retrying…";
    } finally {
      busy = false;
    }
  }

  pager.addEventListener("click", async function (event) {
    const go = event.target.dataset && event.target.dataset.go;
    if (!go || busy) return;
    busy = true;
    try {
      if (go === "me") {  // your row's page of the whole board: the search no longer applies
        if (searchBox) searchBox.value = "";
        search = "";
        await load({ around: "me", page_size: PAGE_SIZE });
      }
      else {
        page = Math.min(Math.max(1, page + (go === "next" ? 1 : -1)), pages);
        await load();
      }
    } catch (error) {
      status.textContent = "Offline; retrying…";
    } finally {
      busy = false;
    }
  });

  // Search as you type (debounced): back to the first page of the matches; live refreshes keep the search.
  if (searchBox) {
    let timer = null;
    searchBox.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(async function () {
        const text = searchBox.value.trim().slice(0, 100);
        if (text === search) return;
        search = text;
        generation += 1;
        page = 1;
        try {
          await load();
        } catch (error) {
          status.textContent = "Offline; retrying…";
        }
      }, 300);
    });
  }

  window.dataperfLeaderboard = { refresh: refresh };
  refresh();
  // Pushed: refresh when the server says the board changed (live.js); polls every 3 s without a stream.
  window.DataperfLive.follow(table.dataset.live, "leaderboard", refresh, 3000);
})();
