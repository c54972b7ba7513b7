// The labelling page: shows one clip (audio + spectrogram with a moving playhead), takes a
// vote by key or button, and keeps the next clip prefetched so there is no wait between clips.
"use strict";

const state = {
  current: null,   // {id, audio, spectrogram} on screen
  next: null,      // promise of the prefetched clip after it (null: not asked yet)
  busy: false,     // a vote or undo is in flight: ignore keys until it lands
};

const $ = (id) => document.getElementById(id);
let name = sax.annotator();  // the session's name once ensureSession has answered
const query = () => "annotator=" + encodeURIComponent(name);

// Asks the server for the next clip, skipping `exclude` (the one on screen); preloads its media.
async function fetchNext(exclude) {
  const url = "/api/next?" + query() + (exclude ? "&exclude=" + exclude : "");
  const reply = await sax.request("GET", url);
  if (reply.status === 204) return null;
  if (!reply.ok) throw new Error(reply.body && reply.body.error || "cannot load the next clip");
  preload(reply.body);
  return reply.body;
}

function preload(clip) {
  new Image().src = clip.spectrogram;
  const audio = new Audio();
  audio.preload = "auto";
  audio.src = clip.audio;
}

function prefetchAfter(clip) {
  state.next = fetchNext(clip.id).catch(() => null);
}

function show(clip) {
  state.current = clip;
  if (!clip) {
    location.href = "/done";
    return;
  }
  $("clip").textContent = "Clip " + clip.id + " · listen, then answer";
  $("spectrogram").src = clip.spectrogram;
  const audio = $("audio");
  audio.src = clip.audio;
  audio.currentTime = 0;
  play();
  prefetchAfter(clip);
}

function play() {
  $("audio").play().then(() => ($("play-hint").textContent = ""), () => {
    $("play-hint").textContent = "Press Space or ▶ to start playback.";
  });
}

function togglePlay() {
  const audio = $("audio");
  if (audio.paused) play();
  else audio.pause();
}

function replay() {
  $("audio").currentTime = 0;
  play();
}

// Moves the playhead with the audio, every animation frame while it plays.
function animatePlayhead() {
  const audio = $("audio");
  const fraction = audio.duration > 0 ? Math.min(1, audio.currentTime / audio.duration) : 0;
  $("playhead").style.left = (100 * fraction).toFixed(2) + "%";
  $("play").firstChild.textContent = audio.paused ? "▶ Play " : "❚❚ Pause ";
  requestAnimationFrame(animatePlayhead);
}

function seekFromClick(event) {
  const audio = $("audio");
  const box = $("spectro").getBoundingClientRect();
  if (!(audio.duration > 0)) return;
  audio.currentTime = audio.duration * ((event.clientX - box.left) / box.width);
  play();
}

async function vote(label) {
  if (state.busy || !state.current) return;
  state.busy = true;
  flash(label);
  try {
    const reply = await sax.request("POST", "/api/labels",
      { sample_id: state.current.id, annotator: name, label });
    if (reply.status !== 201) throw new Error(reply.body && reply.body.error || "vote not saved");
    let next = await state.next;
    if (!next || next.id === state.current.id) next = await fetchNext();
    show(next);
    refreshProgress();
  } catch (error) {
    sax.toast(error.message);
  } finally {
    state.busy = false;
  }
}

async function undo() {
  if (state.busy) return;
  state.busy = true;
  try {
    const reply = await sax.request("DELETE", "/api/labels/last?" + query());
    if (reply.status === 404) return sax.toast("Nothing to undo.");
    if (!reply.ok) throw new Error(reply.body && reply.body.error || "undo failed");
    sax.toast("Undone: clip " + reply.body.sample_id + " is back.");
    show(reply.body.sample);
    refreshProgress();
  } catch (error) {
    sax.toast(error.message);
  } finally {
    state.busy = false;
  }
}

function flash(label) {
  const button = $("vote-" + label);
  button.classList.add("flash");
  setTimeout(() => button.classList.remove("flash"), 120);
}

async function refreshProgress() {
  const reply = await sax.request("GET", "/api/progress?" + query());
  if (!reply.ok) return;
  const p = reply.body;
  $("today").textContent = sax.number(p.today);
  const share = p.samples > 0 ? p.labeled / p.samples : 0;
  $("project").textContent = "project: " + sax.number(p.labeled) + " of " + sax.number(p.samples) +
    " clips labelled (" + sax.percent(share) + ")";
  $("project-bar").style.width = (100 * share).toFixed(1) + "%";
  $("order").textContent = "Order: active learning";
  $("order").title = p.order;
}

const KEYS = { s: () => vote("sax"), n: () => vote("not_sax"), u: () => vote("unsure"),
  " ": togglePlay, r: replay, z: undo };

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const action = KEYS[event.key.toLowerCase()];
  if (!action) return;
  event.preventDefault();
  action();
}

document.addEventListener("DOMContentLoaded", async () => {
  try {
    name = await sax.ensureSession();
  } catch (error) {
    name = null;
  }
  if (!name) {
    location.href = "/";
    return;
  }
  sax.header();
  for (const button of document.querySelectorAll(".vote"))
    button.addEventListener("click", () => vote(button.dataset.label));
  $("play").addEventListener("click", togglePlay);
  $("replay").addEventListener("click", replay);
  $("undo").addEventListener("click", undo);
  $("spectro").addEventListener("click", seekFromClick);
  document.addEventListener("keydown", onKey);
  requestAnimationFrame(animatePlayhead);
  refreshProgress();
  try {
    show(await fetchNext());
  } catch (error) {
    $("clip").textContent = error.message;
  }
});
