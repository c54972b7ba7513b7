// End-to-end analysis: render a small synthetic library, label it from its truth, train a tiny
// CNN, then upload one of its sax songs on /analyze and check that the page lists segments
// where the truth has saxophone, shows the plot, and that clicking a segment seeks the player.
// Saves analyze.png. Run through run.sh, which sets SAXDETECT_BIN, CHROMIUM and SCREENSHOT_DIR;
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

// Small and fast, still enough for a model that finds the sax in songs it was trained on.
const trainConfig = {
  features: { n_mels: 64, frames: 54, n_fft: 1024 },
  net: { depth: 3, channels: 8, max_channels: 32, hidden: 32, dropout: 0.1 },
  augment: { enabled: false },
  epochs: 20, batch_size: 8, lr: 3e-3, patience: 20, seed: 1, threads: 2,
  validation_fraction: 0.15, test_fraction: 0.1,
};

// synth -> ingest -> labels from truth -> train; returns the song with the most saxophone.
function makeModel() {
  saxdetect("synth", "--out", library, "--songs", "16", "--seconds", "20", "--seed", "3", "--format", "wav");
  saxdetect("ingest", library);
  saxdetect("labels", "import", "--from-truth", path.join(library, "truth.json"));
  const config = path.join(work, "train.json");
  fs.writeFileSync(config, JSON.stringify(trainConfig));
  saxdetect("train", "--config", config, "--out", "browser");
  const songs = JSON.parse(fs.readFileSync(path.join(library, "truth.json"), "utf8")).songs;
  const saxSeconds = (song) => song.sax.reduce((sum, [start, end]) => sum + end - start, 0);
  const song = songs.reduce((best, s) => (saxSeconds(s) > saxSeconds(best) ? s : best));
  assert.ok(saxSeconds(song) > 0, "the library has no song with saxophone");
  return song;
}

// The model scores 5-second windows, one per second, so a segment's edges can sit up to half a
// window away from the truth's.
const slack = 2.5;
const overlapsTruth = (segment, sax) =>
  sax.some(([start, end]) => segment.start < end + slack && segment.end > start - slack);

async function main() {
  const started = Date.now();
  const song = makeModel();
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
    const buttons = page.locator("#segments button.segment");
    assert.equal(await buttons.count(), result.segments.length);
    assert.ok((await page.textContent("#summary")).includes(song.file));

    // The plot (an SVG data URL) is drawn.
    await page.waitForFunction(() => document.getElementById("plot").naturalWidth > 0);
    assert.match(await page.getAttribute("#plot", "src"), /^data:image\/svg\+xml/);

    // Clicking a segment that overlaps the truth (the latest one) seeks the player to its start;
    // the player is parked near the end first so the jump is visible even for a segment at 0:00.
    const index = result.segments.reduce((best, s, i) =>
      (overlapsTruth(s, song.sax) && (best < 0 || s.start > result.segments[best].start) ? i : best), -1);
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

    await page.waitForTimeout(300);
    fs.mkdirSync(screenshots, { recursive: true });
    const shot = path.join(screenshots, "analyze.png");
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.DOCS_SCREENSHOT) fs.copyFileSync(shot, process.env.DOCS_SCREENSHOT);

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
