// The status page: the `saxdetect status` report with SVG charts, refreshed every 15 s.
"use strict";

const COLORS = { sax: "#c8921a", not_sax: "#3f6fb5", unsure: "#8a8f9c" };

function figure(name, value) {
  return sax.el("div", { class: "figure" }, sax.el("div", { class: "value" }, value),
    sax.el("div", { class: "name" }, name));
}

function hours(seconds) {
  if (seconds >= 3600) return (seconds / 3600).toFixed(1) + " h";
  return seconds >= 60 ? Math.round(seconds / 60) + " min" : Math.round(seconds) + " s";
}

// Vertical bars, one per day, with the count on top; days without votes are filled in.
function dayChart(votesByDay) {
  const days = Object.keys(votesByDay).sort();
  if (!days.length) return sax.el("p", { class: "muted" }, "No votes yet.");
  const all = [];
  for (let d = new Date(days[0] + "T00:00:00Z"); d <= new Date(days[days.length - 1] + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + 1)) all.push(d.toISOString().slice(0, 10));
  const shown = all.slice(-60);
  const width = 900, height = 220, bottom = 28, top = 18;
  const max = Math.max(1, ...shown.map((day) => votesByDay[day] || 0));
  const step = Math.min(width / shown.length, 56);  // a few days should not make giant bars
  const chart = sax.svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "Votes per day" });
  shown.forEach((day, i) => {
    const count = votesByDay[day] || 0;
    const h = (height - bottom - top) * count / max;
    const x = i * step + step * 0.15, w = step * 0.7, y = height - bottom - h;
    const bar = sax.svg("rect", { x, y, width: w, height: Math.max(h, 0.5), rx: 3, fill: COLORS.sax });
    bar.append(sax.svg("title", {}, `${day}: ${count} votes`));
    chart.append(bar);
    if (count) chart.append(sax.svg("text", { x: x + w / 2, y: y - 4, "text-anchor": "middle" }, String(count)));
    if (shown.length <= 14 || i % Math.ceil(shown.length / 10) === 0)
      chart.append(sax.svg("text", { x: x + w / 2, y: height - 8, "text-anchor": "middle" }, day.slice(5)));
  });
  return chart;
}

// One stacked horizontal bar: how the answers split between sax, not sax and unsure.
function labelBar(labels) {
  const total = Object.values(labels).reduce((a, b) => a + b, 0);
  const width = 900, height = 34;
  const chart = sax.svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "Answers by label" });
  let x = 0;
  for (const name of ["sax", "not_sax", "unsure"]) {
    const count = labels[name] || 0;
    const w = total ? width * count / total : 0;
    if (!w) continue;
    const part = sax.svg("rect", { x, y: 4, width: w, height: 26, fill: COLORS[name] });
    part.append(sax.svg("title", {}, `${name}: ${count}`));
    chart.append(part);
    if (w > 60) chart.append(sax.svg("text", { x: x + 8, y: 22, class: "inside" },
      `${name.replace("_", " ")} ${count}`));
    x += w;
  }
  return chart;
}

// Horizontal bars: votes per annotator, most active first (names are SVG text nodes).
function annotatorChart(annotators) {
  if (!annotators.length) return sax.el("p", { class: "muted" }, "Nobody has labelled yet.");
  const top = [...annotators].sort((a, b) => b.votes - a.votes).slice(0, 15);
  const row = 26, label = 170, width = 900, height = top.length * row + 6;
  const max = Math.max(1, ...top.map((a) => a.votes));
  const chart = sax.svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "Votes per annotator" });
  top.forEach((a, i) => {
    const y = i * row + 4;
    const w = (width - label - 70) * a.votes / max;
    const shortName = a.name.length > 24 ? a.name.slice(0, 23) + "…" : a.name;
    chart.append(sax.svg("text", { x: label - 8, y: y + 15, "text-anchor": "end" }, shortName));
    chart.append(sax.svg("rect", { x: label, y, width: Math.max(w, 1), height: row - 8, rx: 3, fill: COLORS.not_sax }));
    chart.append(sax.svg("text", { x: label + w + 6, y: y + 15 }, `${a.votes}`));
  });
  return chart;
}

function annotatorRows(annotators) {
  return [...annotators].sort((a, b) => b.votes - a.votes).map((a) => sax.el("tr", {},
    sax.el("td", {}, a.name), sax.el("td", { class: "number" }, sax.number(a.votes)),
    sax.el("td", { class: "number" }, sax.number(a.today)),
    sax.el("td", { class: "number" }, sax.percent(a.agreement))));
}

async function refresh() {
  const reply = await sax.request("GET", "/api/status");
  if (!reply.ok) {
    document.getElementById("updated").textContent = "Cannot load the status: " +
      (reply.body && reply.body.error || reply.status);
    return;
  }
  const s = reply.body;
  const labelled = s.labeled + s.unlabeled > 0 ? s.labeled / (s.labeled + s.unlabeled) : 0;
  document.getElementById("figures").replaceChildren(
    figure("songs", sax.number(s.sources)),
    figure(`clips (${sax.number(s.silent)} silent)`, sax.number(s.samples)),
    figure("of audio", hours(s.audio_seconds)),
    figure("clips labelled", `${sax.number(s.labeled)} · ${sax.percent(labelled)}`),
    figure("votes", sax.number(s.votes)),
    figure("annotators", sax.number(s.annotators.length)),
    figure("reconciled sax / not sax", `${sax.number(s.reconciled.sax || 0)} / ${sax.number(s.reconciled.not_sax || 0)}`),
    figure("Fleiss' kappa", s.kappa.toFixed(2)));
  document.getElementById("by-day").replaceChildren(dayChart(s.votes_by_day));
  document.getElementById("labels").replaceChildren(labelBar(s.labels));
  document.getElementById("per-annotator").replaceChildren(annotatorChart(s.annotators));
  document.querySelector("#annotators tbody").replaceChildren(...annotatorRows(s.annotators));
  document.getElementById("kappa").textContent = s.kappa.toFixed(3);
  document.getElementById("updated").textContent =
    `Store: ${s.backend} · updated ${new Date().toLocaleTimeString()} · refreshes every 15 s`;
}

document.addEventListener("DOMContentLoaded", () => {
  refresh();
  setInterval(refresh, 15000);
});
