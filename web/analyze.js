// The analysis page: uploads a song, shows the verdict, the probability plot and the
// segments; clicking a segment plays the song from there (from the local file, not the server).
"use strict";

const $ = (id) => document.getElementById(id);

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

function show(result, file) {
  $("verdict").textContent = result.sax ? "Saxophone found" : "No saxophone found";
  $("summary").textContent = `${result.file}: ${mmss(result.duration)} long, saxophone in ` +
    `${sax.percent(result.sax_share)} of it, highest smoothed probability ${result.probability.toFixed(2)}.`;
  $("plot").src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(result.plot);
  const player = $("player");
  if (player.src) URL.revokeObjectURL(player.src);
  player.src = URL.createObjectURL(file);
  const segments = result.segments.map(segmentButton);
  $("segments").replaceChildren(...(segments.length ? segments
    : [sax.el("p", { class: "muted" }, "None.")]));
  $("result").hidden = false;
}

async function upload(event) {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) return;
  $("analyze-error").textContent = "";
  $("analyze-busy").textContent = `Analysing ${file.name}…`;
  $("analyze").disabled = true;
  try {
    const form = new FormData();
    form.append("file", file);
    const response = await fetch("/api/analyze", { method: "POST", body: form });
    const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    show(body, file);
  } catch (error) {
    $("analyze-error").textContent = error.message;
  } finally {
    $("analyze-busy").textContent = "";
    $("analyze").disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => $("upload").addEventListener("submit", upload));
