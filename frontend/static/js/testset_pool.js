// Test-set pool browser: search the candidate pool, see what the current model suite predicts,
// collect items with your claimed label in "my set" (kept in this browser until submitted), submit
// the set as a normal CSV submission, and follow your proposed items' verification.
(function () {
  const root = document.getElementById("pool");
  if (!root) return;
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const storageKey = root.dataset.storageKey;
  const grid = document.getElementById("pool-items");
  const form = document.getElementById("pool-search");
  const pageInfo = document.getElementById("pool-page-info");
  const setBody = document.querySelector("#my-set-table tbody");
  const setCount = document.getElementById("my-set-count");
  const setStatus = document.getElementById("my-set-status");
  const submitButton = document.getElementById("my-set-submit");
  let classNames = [];
  let maxItems = Number(document.getElementById("my-set-max").textContent) || 0;
  let page = 1;
  let pages = 1;
  // A proposal's verification in words (the labels of Target.Status): a bare "correct" read as a mark.
  const VERIFICATION_TEXT = { pending: "pending", correct: "verified correct", incorrect: "judged incorrect", flagged: "flagged" };

  function loadSet() {
    try { return JSON.parse(localStorage.getItem(storageKey) || "{}"); } catch (e) { return {}; }
  }
  let mySet = loadSet();
  // Labels picked on cards not (yet) in the set, by item id: a re-render (paging, another card's add)
  // keeps them. Adding and removing update the one card in place instead of reloading the grid, which
  // used to replace every card while the user was picking the next label (the choice was lost).
  const chosen = {};
  // Every change starts from the stored set, so another tab's adds are never overwritten by this one.
  function changeSet(change) {
    mySet = loadSet();
    change(mySet);
    localStorage.setItem(storageKey, JSON.stringify(mySet));
    renderSet();
    updateCards();
  }
  function saveSet() { localStorage.setItem(storageKey, JSON.stringify(mySet)); renderSet(); updateCards(); }
  window.addEventListener("storage", function (event) {
    if (event.key !== storageKey) return;
    mySet = loadSet();
    renderSet();
    updateCards();
  });

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function display(item) {
    const box = el("div", null, "item-display");
    if (item.display_kind === "image") {
      const img = el("img");
      img.src = item.display;
      img.alt = "item " + item.item_id;
      box.appendChild(img);
    } else if (item.display_kind === "audio") {
      const audio = el("audio");
      audio.controls = true;
      audio.src = item.display;
      box.appendChild(audio);
    } else {
      box.appendChild(el("blockquote", item.display));
    }
    return box;
  }

  function labelSelect(selected) {
    const select = el("select");
    select.appendChild(new Option("choose the correct label", ""));
    for (const name of classNames) select.appendChild(new Option(name, name, false, name === selected));
    return select;
  }

  // Show whether a card's item is in the set (class, button text, its label) without rebuilding it.
  function updateCards() {
    for (const box of grid.querySelectorAll(".pool-card")) {
      const id = box.dataset.item;
      const entry = mySet[id];
      box.classList.toggle("in-set", Boolean(entry));
      box.querySelector("button").textContent = entry ? "Remove from my set" : "Add to my set";
      if (entry) box.querySelector("select").value = entry.label;
    }
  }

  function card(item) {
    const id = item.item_id;
    const entry = mySet[id];
    const box = el("div", null, "pool-card" + (entry ? " in-set" : ""));
    box.dataset.item = id;
    box.appendChild(display(item));
    box.appendChild(el("code", id));
    const preds = Object.entries(item.predictions).map(([m, l]) => m + ": " + l).join(" · ");
    box.appendChild(el("span", "Models: " + preds, "preds"));
    const select = labelSelect(entry ? entry.label : (chosen[id] || ""));
    box.appendChild(select);
    const button = el("button", entry ? "Remove from my set" : "Add to my set");
    button.type = "button";
    button.addEventListener("click", function () {
      if (loadSet()[id]) {
        changeSet(function (set) { delete set[id]; });
        return;
      }
      const label = select.value;
      if (!label) { setStatus.textContent = "Choose the label you claim is correct for " + id + " first."; return; }
      if (Object.keys(loadSet()).length >= maxItems) { setStatus.textContent = "Your set is full (" + maxItems + " items)."; return; }
      changeSet(function (set) { set[id] = { label: label, majority: item.majority }; });
      delete chosen[id];
      if (label === item.majority) setStatus.textContent = "Note: most models already predict " + item.majority + " for " + id + "; it will not score.";
      else setStatus.textContent = "";
    });
    select.addEventListener("change", function () {
      chosen[id] = select.value;
      if (select.value && loadSet()[id]) changeSet(function (set) { if (set[id]) set[id].label = select.value; });
    });
    box.appendChild(button);
    return box;
  }

  function renderSet() {
    setBody.replaceChildren();
    const ids = Object.keys(mySet);
    setCount.textContent = ids.length;
    for (const id of ids) {
      const tr = el("tr");
      tr.appendChild(el("td", id));
      tr.appendChild(el("td", mySet[id].label));
      tr.appendChild(el("td", mySet[id].majority || ""));
      const td = el("td");
      const remove = el("button", "Remove", "link");
      remove.type = "button";
      remove.addEventListener("click", function () { changeSet(function (set) { delete set[id]; }); });
      td.appendChild(remove);
      tr.appendChild(td);
      setBody.appendChild(tr);
    }
    if (submitButton) submitButton.disabled = ids.length === 0;
  }

  async function refresh() {
    const params = new URLSearchParams(new FormData(form));
    params.set("page", page);
    try {
      const response = await fetch(root.dataset.poolUrl + "?" + params, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      const data = await response.json();
      if (!response.ok) { grid.replaceChildren(el("p", data.detail || "The pool could not be loaded.", "error")); return; }
      if (!classNames.length) {
        classNames = data.class_names;
        const predicted = form.querySelector("select[name=predicted]");
        for (const name of classNames) predicted.appendChild(new Option(name, name));
      }
      maxItems = data.max_items;
      page = data.page;
      pages = data.pages;
      grid.replaceChildren(...data.items.map(card));
      if (!data.items.length) grid.appendChild(el("p", "No items match.", "muted"));
      pageInfo.textContent = "page " + data.page + " of " + data.pages + " (" + data.total + " items)";
    } catch (error) {
      grid.replaceChildren(el("p", "Offline; try again.", "error"));
    }
  }

  async function loadProposals() {
    const body = document.querySelector("#my-proposals tbody");
    try {
      const response = await fetch(root.dataset.proposalsUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      body.replaceChildren();
      for (const row of data.items) {
        const tr = el("tr");
        tr.appendChild(el("td", row.submission_id ? "#" + row.submission_id : "—"));
        tr.appendChild(el("td", row.item_id));
        tr.appendChild(el("td", row.label));
        tr.appendChild(el("td", row.model_fooled ? "yes" : "no"));
        const verdict = VERIFICATION_TEXT[row.status] || row.status;
        tr.appendChild(el("td", verdict + (row.status === "pending" ? " (" + row.votes + " vote(s))" : ""), "status-" + row.status));
        body.appendChild(tr);
      }
      if (!data.items.length) {
        const tr = el("tr");
        const td = el("td", "No scored proposals yet.", "muted");
        td.colSpan = 5;
        tr.appendChild(td);
        body.appendChild(tr);
      }
      document.getElementById("my-proposals-scope").textContent = data.scope === "own"
        ? "Only your own proposals are shown until the phase ends." : "Phase " + data.phase + ": all proposals.";
    } catch (error) { /* try again on the next round */ }
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); page = 1; refresh(); });
  document.querySelector("#pool-pages [data-page=prev]").addEventListener("click", function () { if (page > 1) { page -= 1; refresh(); } });
  document.querySelector("#pool-pages [data-page=next]").addEventListener("click", function () { if (page < pages) { page += 1; refresh(); } });

  if (submitButton) {
    submitButton.addEventListener("click", async function () {
      const items = Object.entries(mySet).map(([item_id, entry]) => ({ item_id: item_id, label: entry.label }));
      submitButton.disabled = true;
      setStatus.textContent = "Submitting…";
      try {
        const response = await fetch(root.dataset.submitUrl, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
          body: JSON.stringify({ items: items, description: document.getElementById("my-set-description").value }),
        });
        const data = await response.json();
        if (!response.ok) { setStatus.textContent = "Not submitted — " + (data.detail || response.statusText); submitButton.disabled = false; return; }
        mySet = {};
        saveSet();
        setStatus.replaceChildren(document.createTextNode("Submitted as "));
        const link = el("a", "submission #" + data.id);
        link.href = "/submissions/" + data.id + "/";
        setStatus.appendChild(link);
        setStatus.appendChild(document.createTextNode("; it is scored in the background."));
      } catch (error) {
        setStatus.textContent = "Offline; the set was not submitted.";
        submitButton.disabled = false;
      }
    });
  }

  renderSet();
  refresh();
  loadProposals();
  setInterval(loadProposals, 10000);
})();
