// The data-ratchet chart (plotly, served locally): per round, the best training-set score on the
// round's test set and the best test-set credit earned in the round. Refreshes every 15 seconds.
(function () {
  const charts = document.querySelectorAll(".ratchet-chart");
  const section = document.getElementById("ratchet");
  if (!charts.length || !section) return;

  function draw(node, data) {
    const rounds = data.rounds.map((r) => r.number);
    const training = {
      x: rounds, y: data.rounds.map((r) => r.best_training_score), name: "best training set (accuracy)",
      mode: "lines+markers", yaxis: "y", connectgaps: false,
    };
    const testSet = {
      x: rounds, y: data.rounds.map((r) => r.best_test_set_credit), name: "best test set (credit)",
      mode: "lines+markers", yaxis: "y2", type: "scatter", line: { dash: "dot" },
    };
    const layout = {
      title: { text: data.title + ": data ratchet", font: { size: 15 } },
      margin: { t: 40, r: 60, b: 45, l: 55 },
      xaxis: { title: { text: "round" }, tickmode: "array", tickvals: rounds, range: [0.5, rounds.length + 0.5] },
      yaxis: { title: { text: "accuracy" }, range: [0, 1] },
      yaxis2: { title: { text: "credit" }, overlaying: "y", side: "right", rangemode: "tozero" },
      legend: { orientation: "h", y: -0.25 },
    };
    Plotly.react(node, [training, testSet], layout, { displayModeBar: false, responsive: true });
    if (window.ResizeObserver && !node.dataset.observed) {   // follow the card's width, not only the window's
      node.dataset.observed = "1";
      new ResizeObserver(() => Plotly.Plots.resize(node)).observe(node);
    }
    node.dataset.rounds = String(data.rounds.length);
  }

  async function refresh(node) {
    try {
      const response = await fetch(node.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      const data = await response.json();
      if (!response.ok) { node.textContent = data.detail || "The ratchet chart is not available."; node.style.height = "auto"; return false; }
      draw(node, data);
    } catch (error) { /* keep the last chart */ }
    return true;
  }

  function start() {
    charts.forEach(async function (node) {
      if (await refresh(node)) setInterval(function () { refresh(node); }, 15000);
    });
  }

  // plotly.js is 4.8 MB: fetched only when the chart comes into view, not with every challenge page.
  let requested = false;
  function loadPlotly() {
    if (requested) return;
    requested = true;
    if (typeof Plotly !== "undefined") { start(); return; }
    const script = document.createElement("script");
    script.src = section.dataset.plotly;
    script.onload = start;
    document.head.appendChild(script);
  }
  if ("IntersectionObserver" in window) {
    const observer = new IntersectionObserver(function (entries) {
      if (entries.some((entry) => entry.isIntersecting)) { observer.disconnect(); loadPlotly(); }
    }, { rootMargin: "200px" });
    observer.observe(section);
  } else {
    loadPlotly();
  }
})();
