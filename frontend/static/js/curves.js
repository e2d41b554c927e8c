// Accuracy-vs-inspections curves of a debugging submission, with random and oracle orders for
// comparison, drawn with the locally served plotly.js once the worker has computed them.
(function () {
  const root = document.getElementById("submission");
  const target = document.getElementById("curves");
  if (!root || !target || !window.Plotly) return;
  let drawn = false;
  const styles = { submission: { color: "#2457c5", width: 3 }, random: { color: "#98a2b3", dash: "dot" }, oracle: { color: "#157f3d", dash: "dash" } };

  function draw(curves) {
    target.replaceChildren();
    for (const [task, byOrder] of Object.entries(curves)) {
      const div = document.createElement("div");
      div.className = "curve";
      target.appendChild(div);
      const names = { submission: "this submission's order", random: "random order", oracle: "oracle (wrong labels first)" };
      const traces = Object.entries(byOrder).map(([name, curve]) => ({
        x: curve.fixes, y: curve.accuracy, name: names[name] || name, mode: "lines", line: styles[name] || {},
      }));
      const targetAccuracy = byOrder.submission ? byOrder.submission.target_accuracy : null;
      if (targetAccuracy !== null && targetAccuracy !== undefined) {
        // The red dotted line, drawn as a trace so the legend explains it.
        const xs = traces.flatMap((t) => t.x || []);
        traces.push({
          x: [Math.min(...xs, 0), Math.max(...xs, 1)], y: [targetAccuracy, targetAccuracy], mode: "lines",
          // Two lines: one would run past a phone's screen (plotly does not wrap legend entries).
          name: "target accuracy (" + targetAccuracy.toFixed(3) + "):<br>the score counts the fixes needed to reach it",
          line: { color: "#b42318", width: 1.5, dash: "dot" }, hoverinfo: "name",
        });
      }
      const layout = {
        title: { text: "Task " + task, font: { size: 14 } }, height: 400, autosize: true,
        margin: { t: 36, r: 10, b: 110, l: 60 },
        // plotly.js 3 takes axis titles as objects (a plain string is ignored).
        xaxis: { title: { text: "training labels inspected and fixed" } },
        yaxis: { title: { text: "test accuracy" } },
        legend: { orientation: "h", x: 0, y: -0.25, yanchor: "top" },
      };
      window.Plotly.newPlot(div, traces, layout, { displayModeBar: false, responsive: true });
      // responsive: true follows the window only; the card can settle to its width after the first draw
      // (narrow screens), so the plot follows its own box too.
      if (window.ResizeObserver) new ResizeObserver(() => window.Plotly.Plots.resize(div)).observe(div);
    }
    drawn = true;
  }

  root.addEventListener("submission:update", (event) => {
    const curves = event.detail.details && event.detail.details.curves;
    if (curves && !drawn) draw(curves);
  });
})();
