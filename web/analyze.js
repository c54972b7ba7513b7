// The analysis page: uploads a song, or picks an ingested one by id, shows the verdict, the
// probability plot and the segments; clicking a segment plays the song from there (an upload
// from the local file, an ingested song from the server, which only serves the file it stored
// for that id).
"use strict";

const $ = (id) => document.getElementById(id);

const SOURCE_LIMIT = 50;  // matches listed at once; the filter narrows thousands down

function mmss(seconds) {
  const s = Math.floor(seconds);
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

function segmentButton(segment) {
  return sax.el("button", {
    type: "button", class: "segment",
    onclick: () => {
      const player = $("player");
      player.currentTime = segment.start;
      player.play().catch(() => {});
    },
  }, `${mmss(segment.start)}–${mmss(segment.end)} · ${Math.round(100 * segment.probability)}%`);
}

// The player plays `src`: an object URL of an uploaded file (released when replaced) or a URL
// of this server.
function play(src) {
  const player = $("player");
  if (player.src.startsWith("blob:")) URL.revokeObjectURL(player.src);
  player.src = src;
}

function show(result, audio) {
  $("verdict").textContent = result.sax ? "Saxophone found" : "No saxophone found";
  $("summary").textContent = `${result.file}: ${mmss(result.duration)} long, saxophone in ` +
    `${sax.percent(result.sax_share)} of it, highest smoothed probability ${result.probability.toFixed(2)}.`;
  $("plot").src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(result.plot);
  play(audio(result));
  const segments = result.segments.map(segmentButton);
  $("segments").replaceChildren(...(segments.length ? segments
    : [sax.el("p", { class: "muted" }, "None.")]));
  $("result").hidden = false;
}

// One way to analyse, whatever the song's origin: `send` makes the request, `audio` gives the
// player's source for the result.
async function analyse(name, send, audio) {
  $("analyze-error").textContent = "";
  $("analyze-busy").textContent = `Analysing ${name}…`;
  const buttons = [$("analyze"), $("analyze-source")];
  for (const button of buttons) button.disabled = true;
  try {
    const response = await send();
    const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    show(body, audio);
  } catch (error) {
    $("analyze-error").textContent = error.message;
  } finally {
    $("analyze-busy").textContent = "";
    for (const button of buttons) button.disabled = false;
  }
}

function upload(event) {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  analyse(file.name, () => fetch("/api/analyze", { method: "POST", body: form }),
    () => URL.createObjectURL(file));
}

function analyseSource(event) {
  event.preventDefault();
  const option = $("source").selectedOptions[0];
  if (!option) {
    $("analyze-error").textContent = "Pick a song from the list first.";
    return;
  }
  analyse(option.dataset.name,
    () => fetch(`/api/sources/${encodeURIComponent(option.value)}/analyze`, { method: "POST" }),
    (result) => result.audio);
}

function sourceOption(source) {
  const about = [source.artist, source.title].filter(Boolean).join(" · ");
  const text = source.name + (about ? ` — ${about}` : "") +
    (source.duration > 0 ? ` (${mmss(source.duration)})` : "") +
    (source.available ? "" : " — original file missing");
  return sax.el("option", { value: String(source.id), "data-name": source.name,
    class: source.available ? "" : "missing" }, text);
}

let listed = 0;  // requests answered out of order are dropped: only the newest filter counts
async function listSources() {
  const filter = $("source-filter").value;
  const request = ++listed;
  try {
    const response = await fetch("/api/sources?" + new URLSearchParams({ q: filter, limit: SOURCE_LIMIT }));
    const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    if (request !== listed) return;
    $("source").replaceChildren(...body.sources.map(sourceOption));
    $("source-count").textContent = body.total === 0
      ? (filter ? "No ingested song matches." : "No songs ingested yet (saxdetect ingest FOLDER).")
      : body.total > body.sources.length
        ? `The first ${body.sources.length} of ${body.total} matches; type to narrow them down.`
        : `${body.total} ${body.total === 1 ? "song" : "songs"}.`;
  } catch (error) {
    if (request === listed) $("source-count").textContent = `Cannot list the songs: ${error.message}`;
  }
}

let typing = null;
document.addEventListener("DOMContentLoaded", () => {
  $("upload").addEventListener("submit", upload);
  $("pick").addEventListener("submit", analyseSource);
  $("source").addEventListener("dblclick", analyseSource);
  $("source-filter").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(listSources, 200);
  });
  listSources();
});
