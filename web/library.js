// The Library page: every song `saxdetect scan` scored, filtered, sorted and paged by the
// server (/api/library), each with a bar of where the sax plays. Clicking a song plays it with
// its segments (as /analyze does for one song); clicking a segment, in the bar or in the list,
// seeks the player there. "Label this song" queues its uncertain clips for labelling.
"use strict";

const $ = (id) => document.getElementById(id);
const PAGE = 50;
let offset = 0;
let total = 0;
let current = null;  // the song in the player

function mmss(seconds) {
  const s = Math.floor(seconds);
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

function query() {
  const share = Math.min(100, Math.max(0, Number($("min-share").value) || 0)) / 100;
  const params = new URLSearchParams({
    verdict: $("verdict").value, sort: $("sort").value, order: $("order").value,
    min_share: String(share), offset: String(offset), limit: String(PAGE),
  });
  const q = $("q").value.trim();
  if (q) params.set("q", q);
  return "/api/library?" + params.toString();
}

// Where the sax plays, as coloured stretches over the song's length; each stretch plays the
// song from there.
function timeline(song) {
  const bar = sax.el("div", { class: "timeline", title: "Where the saxophone plays" });
  for (const [start, end] of song.segments) {
    if (!(song.duration > 0)) break;
    const left = (100 * start) / song.duration, width = (100 * (end - start)) / song.duration;
    const stretch = sax.el("span", {
      class: "stretch", "data-start": String(start), title: `${mmss(start)}–${mmss(end)}`,
      onclick: (event) => { event.stopPropagation(); open(song, start); },
    });
    // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    stretch.style.left = `${left.toFixed(2)}%`;
    stretch.style.width = `${Math.max(width, 0.5).toFixed(2)}%`;
    bar.append(stretch);
  }
  return bar;
}

function songName(song) {
  if (song.artist && song.title) return `${song.artist} – ${song.title}`;
  return song.title || song.name;
}

function row(song) {
  const verdict = song.status === "missing" ? "file missing" : song.sax ? "sax" : "no sax";
  return sax.el("tr", { class: "song" + (current && current.id === song.id ? " playing" : ""),
    "data-id": String(song.id), onclick: () => open(song, null) },
  sax.el("td", {}, sax.el("a", { href: "#", class: "name",
    onclick: (event) => { event.preventDefault(); } }, songName(song))),
  sax.el("td", { class: song.sax ? "verdict-sax" : "" }, verdict),
  sax.el("td", { class: "number" }, sax.percent(song.share)),
  sax.el("td", { class: "number" }, mmss(song.duration)),
  sax.el("td", {}, timeline(song)),
  sax.el("td", { class: "muted small" }, song.segments.length + " seg."));
}

async function load() {
  const reply = await sax.request("GET", query());
  if (!reply.ok) return void ($("library-summary").textContent = reply.body.error || "Cannot load the library.");
  if (!reply.body.available) return void ($("library-summary").textContent = reply.body.message);
  total = reply.body.total;
  const songs = reply.body.songs;
  $("songs").tBodies[0].replaceChildren(...songs.map(row));
  $("library-summary").textContent = total ? `${sax.number(total)} songs match.`
    : "No songs match. Scanned songs appear here after saxdetect scan.";
  $("page-info").textContent = total ? `${offset + 1}–${offset + songs.length} of ${sax.number(total)}` : "";
  $("previous").disabled = offset === 0;
  $("next").disabled = offset + songs.length >= total;
}

function curveSvg(song) {
  const width = 1000, height = 120, n = song.curve.length;
  const svg = sax.svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "curve",
    preserveAspectRatio: "none", role: "img", "aria-label": "Sax probability over the song" });
  for (const [start, end] of song.segments)
    svg.append(sax.svg("rect", { x: (width * start) / song.duration, y: 0,
      width: Math.max(1, (width * (end - start)) / song.duration), height, class: "segment-area" }));
  if (n > 1 && song.curve_step > 0) {
    const points = song.curve.map((p, i) =>
      `${((width * (i + 0.5) * song.curve_step) / song.duration).toFixed(1)},${(height * (1 - p)).toFixed(1)}`);
    svg.append(sax.svg("polyline", { points: points.join(" "), class: "probability" }));
  }
  return svg;
}

function segmentButton(start, end, probability) {
  return sax.el("button", { type: "button", class: "segment", "data-start": String(start),
    onclick: () => seek(start) },
    `${mmss(start)}–${mmss(end)} · ${Math.round(100 * probability)}%`);
}

function seek(seconds) {
  const player = $("player");
  player.currentTime = seconds;
  player.play().catch(() => {});
}

// Opens the song in the player (fetching its curve), then seeks to `start` when given.
async function open(song, start) {
  if (!current || current.id !== song.id) {
    const reply = await sax.request("GET", `/api/library/${song.id}`);
    if (!reply.ok) return void ($("library-summary").textContent = reply.body.error);
    current = reply.body;
    $("song-title").textContent = songName(current);
    $("song-summary").textContent = `${current.sax ? "Saxophone" : "No saxophone"}: ` +
      `${sax.percent(current.share)} of ${mmss(current.duration)}, highest probability ` +
      `${current.probability.toFixed(2)}` + (current.status === "missing" ? " (the file is missing)" : "") + ".";
    $("player").src = current.audio;
    $("curve").replaceChildren(curveSvg(current));
    const buttons = current.segments.map(([s, e, p]) => segmentButton(s, e, p));
    $("segments").replaceChildren(...(buttons.length ? buttons : [sax.el("p", { class: "muted" }, "None.")]));
    $("label-result").textContent = "";
    $("song").hidden = false;
    for (const tr of $("songs").tBodies[0].rows) tr.classList.toggle("playing", tr.dataset.id === String(song.id));
  }
  if (start !== null) seek(start);
}

async function labelThis(event) {
  event.preventDefault();
  if (!current) return;
  const reply = await sax.request("POST", `/api/library/${current.id}/label`);
  if (!reply.ok) return void ($("label-result").textContent = reply.body.error);
  $("label-result").replaceChildren(`${reply.body.queued} clips queued. `,
    sax.el("a", { href: reply.body.label }, "Start labelling"));
}

let typing = null;
function refilter() {
  offset = 0;
  clearTimeout(typing);
  typing = setTimeout(load, 200);
}

document.addEventListener("DOMContentLoaded", () => {
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); refilter(); });
  for (const id of ["q", "min-share"]) $(id).addEventListener("input", refilter);
  for (const id of ["verdict", "sort", "order"]) $(id).addEventListener("change", refilter);
  $("previous").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
  $("next").addEventListener("click", () => { offset += PAGE; load(); });
  $("label-this").addEventListener("click", labelThis);
  load();
});
