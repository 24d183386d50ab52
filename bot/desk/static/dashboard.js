// The dashboard's charts, drawn with Chart.js (vendored into static/vendor/ by `make
// desk-assets`) from the JSON the page carries in <script id="dashboard-data">. The page's
// tables hold the same figures, so without Chart.js nothing is lost but the pictures.
"use strict";

(function () {
  const source = document.getElementById("dashboard-data");
  if (!source || typeof window.Chart === "undefined") return;
  const report = JSON.parse(source.textContent);
  const Chart = window.Chart;

  // The desk's accent first; the rest told apart by colour and by line style.
  const colours = {
    blue: "#2f5d8a", orange: "#c0632a", red: "#a8322d", green: "#3b7d3b", grey: "#6b7680",
  };
  const days = report.days.map((row) => row.day.slice(5)); // "11-03": the year is in the table
  const percent = (value) => (value === null ? null : Math.round(value * 1000) / 10);

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false; // figures, not a show
  Chart.defaults.maintainAspectRatio = false; // the .chart box sets the height

  function line(label, values, colour, dash) {
    return {
      type: "line", label: label, data: values, borderColor: colour, backgroundColor: colour,
      borderDash: dash || [], spanGaps: false, pointRadius: days.length > 31 ? 0 : 3,
      tension: 0, yAxisID: "y",
    };
  }

  function bar(label, values, colour, stack) {
    return { type: "bar", label: label, data: values, backgroundColor: colour, stack: stack };
  }

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) new Chart(canvas, config);
  }

  draw("chart-volume", {
    type: "bar", // the messages dataset draws itself as a line
    data: {
      labels: days,
      datasets: [
        bar("conversations", report.days.map((d) => d.conversations), colours.blue),
        line("customer messages", report.days.map((d) => d.turns), colours.orange),
      ],
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });

  draw("chart-rates", {
    type: "line",
    data: {
      labels: days,
      datasets: [
        line("contained", report.days.map((d) => percent(d.containment)), colours.blue),
        line("handed over", report.days.map((d) => percent(d.handoff_rate)), colours.orange, [6, 3]),
        line("refused", report.days.map((d) => percent(d.refusal_rate)), colours.red, [2, 2]),
        line("thumbs up", report.days.map((d) => percent(d.thumbs_up_share)), colours.green, [10, 4]),
      ],
    },
    options: { scales: { y: { min: 0, max: 100, ticks: { callback: (v) => v + " %" } } } },
  });

  draw("chart-latency", {
    type: "line",
    data: {
      labels: days,
      datasets: [
        line("p50", report.days.map((d) => d.latency_ms.p50), colours.blue),
        line("p95", report.days.map((d) => d.latency_ms.p95), colours.red, [6, 3]),
      ],
    },
    options: { scales: { y: { beginAtZero: true, ticks: { callback: (v) => v + " ms" } } } },
  });

  draw("chart-drafts", {
    type: "bar",
    data: {
      labels: days,
      datasets: [
        bar("sent", report.days.map((d) => d.drafts.sent), colours.blue, "drafts"),
        bar("rejected", report.days.map((d) => d.drafts.rejected), colours.red, "drafts"),
        bar("timed out", report.days.map((d) => d.drafts.timeout), colours.orange, "drafts"),
        bar("fell back", report.days.map((d) => d.drafts.fallback), colours.grey, "drafts"),
      ],
    },
    options: {
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
    },
  });

  draw("chart-intents", {
    type: "bar",
    data: {
      labels: report.top_intents.map((row) => row.intent),
      datasets: [bar("customer messages", report.top_intents.map((row) => row.turns), colours.blue)],
    },
    options: {
      indexAxis: "y",
      plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
})();
