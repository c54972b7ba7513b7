// The model page: model.json of the current model as tables, and its training/ROC pictures.
"use strict";

const METRICS = [
  ["accuracy", "Accuracy"], ["balanced_accuracy", "Balanced accuracy"], ["precision", "Precision"],
  ["recall", "Recall"], ["f1", "F1"], ["roc_auc", "ROC-AUC"], ["pr_auc", "PR-AUC"],
  ["loss", "Loss"], ["threshold", "Threshold"],
];

const $ = (id) => document.getElementById(id);
const fixed = (value) => (typeof value === "number" ? value.toFixed(3) : value === undefined ? "–" : String(value));

function metricsTable(metrics) {
  const sets = Object.keys(metrics);  // "validation", "test", and per time step when trained so
  const title = (set) => set.replace("_steps", " (time steps)");
  const head = sax.el("tr", {}, sax.el("th", {}, "Metric"),
    ...sets.map((set) => sax.el("th", { class: "number" }, title(set))));
  const rows = METRICS.filter(([key]) => sets.some((set) => key in metrics[set])).map(([key, title]) =>
    sax.el("tr", {}, sax.el("td", {}, title),
      ...sets.map((set) => sax.el("td", { class: "number" }, fixed(metrics[set][key])))));
  return [sax.el("thead", {}, head), sax.el("tbody", {}, ...rows)];
}

function confusionTable(c) {
  return [
    sax.el("thead", {}, sax.el("tr", {}, sax.el("th", {}, ""), sax.el("th", { class: "number" }, "predicted sax"),
      sax.el("th", { class: "number" }, "predicted not sax"))),
    sax.el("tbody", {},
      sax.el("tr", {}, sax.el("th", {}, "sax"), sax.el("td", { class: "number" }, c.tp), sax.el("td", { class: "number" }, c.fn)),
      sax.el("tr", {}, sax.el("th", {}, "not sax"), sax.el("td", { class: "number" }, c.fp), sax.el("td", { class: "number" }, c.tn))),
  ];
}

// Flattens nested objects into "a.b" rows (arrays shown as comma lists).
function configRows(object, prefix = "") {
  const rows = [];
  for (const [key, value] of Object.entries(object || {})) {
    const name = prefix + key;
    if (value && typeof value === "object" && !Array.isArray(value)) rows.push(...configRows(value, name + "."));
    else rows.push(sax.el("tr", {}, sax.el("td", {}, name),
      sax.el("td", {}, Array.isArray(value) ? value.join(", ") : String(value))));
  }
  return rows;
}

function show(reply) {
  const m = reply.model;
  const test = (m.metrics && m.metrics.test) || {};
  $("model-summary").textContent = `Model ${reply.name}` + (m.kind ? ` (${m.kind})` : "") +
    (m.best_epoch !== undefined ? `, best epoch ${m.best_epoch}` : "") +
    (m.desert_restarts ? `, ${m.desert_restarts} restart(s) out of the 0.693 desert` : "") + ".";
  const figures = [["test balanced accuracy", test.balanced_accuracy], ["test ROC-AUC", test.roc_auc],
    ["test F1", test.f1], ["threshold", m.threshold]];
  if (m.samples) figures.push(["train / val / test clips", `${m.samples.train} / ${m.samples.validation} / ${m.samples.test}`]);
  // Library scan by this model (saxdetect scan): songs scanned, and how many have sax.
  if (reply.scans) figures.push(["songs scanned", sax.number(reply.scans.scanned)],
    ["songs with sax", sax.number(reply.scans.sax)]);
  $("model-figures").replaceChildren(...figures.map(([name, value]) => sax.el("div", { class: "figure" },
    sax.el("div", { class: "value" }, fixed(value)), sax.el("div", { class: "name" }, name))));
  if (m.metrics) {
    $("metrics-table").replaceChildren(...metricsTable(m.metrics));
    if (test.confusion) $("confusion").replaceChildren(...confusionTable(test.confusion));
    $("model-metrics").hidden = false;
  }
  const pictures = Object.entries(reply.pictures).map(([name, url]) =>
    sax.el("figure", {}, sax.el("img", { src: url, alt: name + " chart" }),
      sax.el("figcaption", { class: "muted small" }, name === "roc" ? "ROC curve on the test set" : "Loss and accuracy per epoch")));
  if (pictures.length) {
    $("pictures").replaceChildren(...pictures);
    $("model-pictures").hidden = false;
  }
  const config = configRows({ features: m.features, net: m.net });
  if (config.length) {
    $("config-table").replaceChildren(sax.el("tbody", {}, ...config));
    $("model-config").hidden = false;
  }
}

// No trained model: the built-in detector answers, at its default or calibrated threshold.
function builtinSummary(body) {
  const b = body.builtin;
  if (!b) return body.message;
  const how = b.calibrated ? "calibrated on this home's labels (saxdetect calibrate)" : "the default, chosen on real recordings";
  return `${body.message} Its threshold: ${fixed(b.threshold)}, ${how}.`;
}

document.addEventListener("DOMContentLoaded", async () => {
  const reply = await sax.request("GET", "/api/model");
  if (!reply.ok) return void ($("model-summary").textContent = "Cannot load the model.");
  if (!reply.body.available) return void ($("model-summary").textContent = builtinSummary(reply.body));
  show(reply.body);
});
