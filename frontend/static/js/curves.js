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
      const traces = Object.entries(byOrder).map(([name, curve]) => ({
        x: curve.fixes, y: curve.accuracy, name: name, mode: "lines", line: styles[name] || {},
      }));
      const targetAccuracy = byOrder.submission ? byOrder.submission.target_accuracy : null;
      const layout = {
        title: { text: "Task " + task, font: { size: 14 } }, height: 280, margin: { t: 36, r: 10, b: 40, l: 50 },
        xaxis: { title: "labels inspected and fixed" }, yaxis: { title: "test accuracy" },
        shapes: targetAccuracy === null ? [] : [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: targetAccuracy, y1: targetAccuracy, line: { color: "#b42318", width: 1, dash: "dot" } }],
      };
      window.Plotly.newPlot(div, traces, layout, { displayModeBar: false, responsive: true });
    }
    drawn = true;
  }

  root.addEventListener("submission:update", (event) => {
    const curves = event.detail.details && event.detail.details.curves;
    if (curves && !drawn) draw(curves);
  });
})();
