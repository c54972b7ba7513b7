// End-to-end analysis: render a small synthetic library, label it from its truth, train a tiny
// CNN, then upload one of its sax songs on /analyze and check that the page lists segments
// where the truth has saxophone, shows the plot, and that clicking a segment seeks the player.
// Saves analyze.png. Then the same for another sax song picked from the ingested library by
// typing part of its name (played back from the server; analyze-source.png), and a song whose
// file was deleted after ingest, which the list and the error message say is missing. Run through run.sh, which sets SAXDETECT_BIN, CHROMIUM and SCREENSHOT_DIR;
// DOCS_SCREENSHOT=FILE also copies the screenshot there.
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const harness = require("./harness");

const screenshots = process.env.SCREENSHOT_DIR;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "saxdetect-analyze-"));
const home = path.join(work, "home");
const library = path.join(work, "library");
const saxdetect = (...args) => harness.saxdetect(home, "-q", ...args);


const saxSeconds = (song) => song.sax.reduce((sum, [start, end]) => sum + end - start, 0);

// synth -> ingest -> labels from truth -> train; returns the songs, most saxophone first.
function makeModel() {
  const songs = harness.trainedLibrary(home, library, 16);
  songs.sort((a, b) => saxSeconds(b) - saxSeconds(a));
  assert.ok(saxSeconds(songs[1]) > 0, "the library has fewer than two songs with saxophone");
  return songs;
}

// The model scores 5-second windows, one per second, so a segment's edges can sit up to half a
// window away from the truth's.
const slack = 2.5;
const overlapsTruth = (segment, sax) =>
  sax.some(([start, end]) => segment.start < end + slack && segment.end > start - slack);

// Clicking a segment that overlaps the truth (the latest one) seeks the player to its start; the
// player is parked near the end first so the jump is visible even for a segment at 0:00.
async function checkSeek(page, result, truth) {
  const buttons = page.locator("#segments button.segment");
  assert.equal(await buttons.count(), result.segments.length);
  const index = result.segments.reduce((best, s, i) =>
    (overlapsTruth(s, truth) && (best < 0 || s.start > result.segments[best].start) ? i : best), -1);
  const segment = result.segments[index];
  await page.waitForFunction(() => document.getElementById("player").readyState >= 1);
  await page.evaluate(() => {
    const player = document.getElementById("player");
    player.pause();
    player.currentTime = player.duration - 1;
  });
  await page.waitForFunction(() => document.getElementById("player").currentTime > 2);
  await buttons.nth(index).click();
  await page.waitForFunction((start) => {
    const player = document.getElementById("player");
    return Math.abs(player.currentTime - start) < 0.5;
  }, segment.start, { timeout: 5000 });
}

// Types part of `file`'s name into the filter and selects it in the list of ingested songs;
// returns the option's text.
async function pickSource(page, file) {
  await page.fill("#source-filter", file.replace(/\.[a-z0-9]+$/, ""));
  const option = page.locator("#source option", { hasText: file });
  await option.waitFor({ state: "attached", timeout: 5000 });
  await page.waitForFunction(() => document.querySelectorAll("#source option").length === 1);
  await page.selectOption("#source", await option.getAttribute("value"));
  return option.textContent();
}

const isSourceAnalysis = (r) => /\/api\/sources\/\d+\/analyze$/.test(r.url());

async function main() {
  const started = Date.now();
  const songs = makeModel();
  const song = songs[0];
  const trained = (Date.now() - started) / 1000;
  const { server, url } = await harness.startServer(home);
  const context = await harness.launchBrowser(work);
  try {
    const page = context.pages()[0] || await context.newPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(error.message));

    await page.goto(url + "analyze");
    await page.setInputFiles("#file", path.join(library, song.file));
    const response = page.waitForResponse((r) => r.url().endsWith("/api/analyze"), { timeout: 60000 });
    await page.click("#analyze");
    const result = await (await response).json();
    await page.waitForSelector("#result:not([hidden])");
    assert.equal(await page.textContent("#analyze-error"), "");

    // The server found saxophone where the truth has it, and the page lists those segments.
    assert.equal(result.file, song.file);
    assert.ok(result.segments.length > 0, `no segments in ${song.file} (truth ${JSON.stringify(song.sax)})`);
    assert.ok(result.segments.some((s) => overlapsTruth(s, song.sax)),
      `segments ${JSON.stringify(result.segments)} miss the truth ${JSON.stringify(song.sax)}`);
    assert.match(await page.textContent("#verdict"), /Saxophone found/);
    assert.ok((await page.textContent("#summary")).includes(song.file));

    // The plot (an SVG data URL) is drawn.
    await page.waitForFunction(() => document.getElementById("plot").naturalWidth > 0);
    assert.match(await page.getAttribute("#plot", "src"), /^data:image\/svg\+xml/);

    await checkSeek(page, result, song.sax);

    await page.waitForTimeout(300);
    fs.mkdirSync(screenshots, { recursive: true });
    const shot = path.join(screenshots, "analyze.png");
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.DOCS_SCREENSHOT) fs.copyFileSync(shot, process.env.DOCS_SCREENSHOT);

    // Another sax song, picked from the ingested library: analysed by id on the server and
    // played back from it (seeking needs its range requests).
    const picked = songs[1];
    await pickSource(page, picked.file);
    const pickedResponse = page.waitForResponse(isSourceAnalysis, { timeout: 60000 });
    await page.click("#analyze-source");
    const pickedResult = await (await pickedResponse).json();
    await page.waitForFunction((file) => document.getElementById("summary").textContent.startsWith(file),
      picked.file);
    assert.equal(await page.textContent("#analyze-error"), "");
    assert.equal(pickedResult.file, picked.file);
    assert.ok(pickedResult.segments.some((s) => overlapsTruth(s, picked.sax)),
      `segments ${JSON.stringify(pickedResult.segments)} miss the truth ${JSON.stringify(picked.sax)}`);
    assert.match(await page.getAttribute("#player", "src"), /^\/api\/sources\/\d+\/audio$/);
    await checkSeek(page, pickedResult, picked.sax);
    await page.screenshot({ path: path.join(screenshots, "analyze-source.png"), fullPage: true });

    // A song whose file went away after ingest: the list marks it, analysing it says why.
    const gone = songs[songs.length - 1];
    fs.rmSync(path.join(library, gone.file));
    assert.match(await pickSource(page, gone.file), /original file missing/);
    const goneResponse = page.waitForResponse(isSourceAnalysis);
    await page.click("#analyze-source");
    assert.equal((await goneResponse).status(), 410);
    await page.waitForFunction(() => document.getElementById("analyze-error").textContent !== "");
    assert.match(await page.textContent("#analyze-error"), /no longer there/);
    assert.ok((await page.textContent("#analyze-error")).includes(gone.file));

    assert.deepEqual(errors, [], "JavaScript errors on the page");
    const found = result.segments.map((s) => `${s.start}-${s.end}`).join(", ");
    console.log(`analyze test passed: ${song.file} (sax ${song.sax.map((r) => r.join("-")).join(", ")}) ` +
      `-> segments ${found}; model ready in ${trained.toFixed(0)} s, total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await context.close();
    server.kill("SIGTERM");
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
