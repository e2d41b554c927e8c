// Annotator queue: one item at a time, answered with buttons or the keys c (correct), i (incorrect)
// and f (flag: a reason or a corrected label, Enter sends, Esc cancels). The server picks the next
// item (least-verified first, never your own, never twice).
(function () {
  const root = document.getElementById("verify");
  if (!root) return;
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const current = document.getElementById("verify-current");
  const empty = document.getElementById("verify-empty");
  const statusEl = document.getElementById("verify-status");
  const countsEl = document.getElementById("verify-counts");
  const displayEl = document.getElementById("verify-display");
  const labelEl = document.getElementById("verify-label");
  const itemIdEl = document.getElementById("verify-item-id");
  const flagForm = document.getElementById("flag-form");
  const flagReason = document.getElementById("flag-reason");
  const flagLabel = document.getElementById("flag-label");
  let item = null;
  let busy = false;

  function renderDisplay(target, data) {
    target.replaceChildren();
    if (data.display_kind === "image") {
      const img = document.createElement("img");
      img.src = data.display;
      img.alt = "item " + data.item_id;
      target.appendChild(img);
    } else if (data.display_kind === "audio") {
      const audio = document.createElement("audio");
      audio.controls = true;
      audio.src = data.display;
      target.appendChild(audio);
    } else {
      const quote = document.createElement("blockquote");
      quote.textContent = data.display;
      target.appendChild(quote);
    }
  }

  function showCounts(counts) {
    countsEl.textContent = counts.remaining + " item(s) waiting for you · " + counts.verified_by_you + " verified by you";
  }

  function fillLabels(classNames, proposed) {
    flagLabel.replaceChildren(new Option("(none)", ""));
    for (const name of classNames) {
      if (name !== proposed) flagLabel.appendChild(new Option(name, name));
    }
  }

  function closeFlag() {
    flagForm.hidden = true;
    flagReason.value = "";
    flagLabel.value = "";
  }

  async function loadNext() {
    busy = true;
    try {
      const response = await fetch(root.dataset.nextUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      const data = await response.json();
      if (!response.ok) {
        statusEl.textContent = data.detail || "The queue could not be loaded.";
        return;
      }
      item = data.item;
      closeFlag();
      showCounts(data.counts);
      current.hidden = item === null;
      empty.hidden = item !== null;
      if (item) {
        renderDisplay(displayEl, item);
        labelEl.textContent = item.label;
        itemIdEl.textContent = item.item_id;
        current.dataset.item = item.id;
        fillLabels(data.class_names, item.label);
      }
    } catch (error) {
      statusEl.textContent = "Offline; press a key again to retry.";
    } finally {
      busy = false;
    }
  }

  async function vote(verdict, extra) {
    if (!item || busy) return;
    busy = true;
    const url = root.dataset.voteUrl.replace("/items/0/", "/items/" + item.id + "/");
    try {
      const response = await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(Object.assign({ verdict: verdict }, extra || {})),
      });
      const data = await response.json();
      if (!response.ok && response.status !== 409) {
        statusEl.textContent = data.detail || "The answer was not saved.";
        busy = false;
        return;
      }
      statusEl.textContent = response.status === 409 ? data.detail
        : "Saved: " + item.item_id + " is " + verdict + (data.resolved_now ? " (this decided the item)" : "") + ".";
    } catch (error) {
      statusEl.textContent = "Offline; the answer was not saved.";
      busy = false;
      return;
    }
    busy = false;
    await loadNext();
  }

  root.querySelectorAll("button[data-verdict]").forEach(function (button) {
    button.addEventListener("click", function () { vote(button.dataset.verdict); });
  });
  document.getElementById("flag-open").addEventListener("click", function () {
    flagForm.hidden = false;
    flagReason.focus();
  });
  document.getElementById("flag-cancel").addEventListener("click", closeFlag);
  flagForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!flagReason.value.trim() && !flagLabel.value) {
      statusEl.textContent = "A flag needs a reason or a corrected label.";
      return;
    }
    vote("flag", { reason: flagReason.value.trim(), corrected_label: flagLabel.value });
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (!flagForm.hidden) {
      if (event.key === "Escape") { event.preventDefault(); closeFlag(); }
      return;   // typing a reason: letters are text, Enter submits the form
    }
    const tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") return;
    const key = event.key.toLowerCase();
    if (key === "c") { event.preventDefault(); vote("correct"); }
    else if (key === "i") { event.preventDefault(); vote("incorrect"); }
    else if (key === "f" && item) { event.preventDefault(); flagForm.hidden = false; flagReason.focus(); }
  });

  loadNext();
})();
