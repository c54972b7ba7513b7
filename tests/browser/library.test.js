// The Library page end to end: a small synthetic library, labelled from its truth, trains a tiny
// CNN; `saxdetect scan` scores every song, one of them under a name full of markup. The page
// must show that name as text, filter to the sax songs, sort by share, play a song and move the
// audio position when a segment (in the list or in a row's timeline) is clicked, and queue the
// song for labelling. Saves library.png. Run through run.sh (SAXDETECT_BIN, CHROMIUM,
// SCREENSHOT_DIR); DOCS_SCREENSHOT_LIBRARY=FILE also copies the screenshot there.
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const harness = require("./harness");

const screenshots = process.env.SCREENSHOT_DIR;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "saxdetect-library-"));
const home = path.join(work, "home");
const library = path.join(work, "library");
const saxdetect = (...args) => harness.saxdetect(home, "-q", ...args);

const markup = "<img src=x onerror=\"window.owned=1\"> & \"co\".wav";

function prepare() {
  const songs = harness.trainedLibrary(home, library, 12);
  // The same audio under a hostile name (one byte changed at the end so it is a new source).
  const bytes = fs.readFileSync(path.join(library, songs[0].file));
  bytes[bytes.length - 1] ^= 1;
  fs.writeFileSync(path.join(library, markup), bytes);
  saxdetect("scan", library);
  return JSON.parse(saxdetect("library", "--json"));
}

const rowTexts = (page, column) => page.$$eval("#songs tbody tr",
  (rows, c) => rows.map((r) => r.cells[c].textContent), column);

async function waitForRows(page, count) {
  await page.waitForFunction((n) => document.querySelectorAll("#songs tbody tr").length === n, count);
}

// Parks the player near the end, then expects `click` to move it to `start`.
async function expectSeek(page, click, start) {
  await page.waitForFunction(() => document.getElementById("player").readyState >= 1);
  await page.evaluate(() => {
    const player = document.getElementById("player");
    player.pause();
    player.currentTime = player.duration - 1;
  });
  await page.waitForFunction(() => document.getElementById("player").currentTime > 5);
  await click();
  await page.waitForFunction((s) => Math.abs(document.getElementById("player").currentTime - s) < 0.5,
    start, { timeout: 5000 });
}

async function main() {
  const started = Date.now();
  const scanned = prepare();
  const withSax = scanned.filter((s) => s.sax);
  assert.ok(withSax.length >= 2, `too few sax songs found: ${JSON.stringify(scanned.map((s) => s.sax))}`);
  const { server, url } = await harness.startServer(home);
  const context = await harness.launchBrowser(work);
  try {
    const page = context.pages()[0] || await context.newPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(url + "library");
    await waitForRows(page, scanned.length);

    // The hostile name is shown as text, never parsed.
    assert.ok((await rowTexts(page, 0)).includes(markup), "the markup name is not shown as text");
    assert.equal(await page.$$eval("#songs img", (images) => images.length), 0);
    assert.equal(await page.evaluate(() => window.owned), undefined);

    // Filter: only sax songs.
    await page.selectOption("#verdict", "sax");
    await waitForRows(page, withSax.length);
    for (const verdict of await rowTexts(page, 1)) assert.equal(verdict, "sax");

    // Sort by share, most first.
    await page.selectOption("#sort", "share");
    await page.selectOption("#order", "desc");
    const expected = withSax.map((s) => s.share).sort((a, b) => b - a);
    await page.waitForFunction((first) => {
      const cell = document.querySelector("#songs tbody tr td:nth-child(3)");
      return cell && cell.textContent === first;
    }, `${(100 * expected[0]).toFixed(expected[0] > 0 && expected[0] < 0.1 ? 1 : 0)}%`);
    const shares = (await rowTexts(page, 2)).map((t) => parseFloat(t));
    for (let i = 1; i < shares.length; i++) assert.ok(shares[i - 1] >= shares[i], `not sorted: ${shares}`);

    // Play the top song; its segment buttons move the audio position.
    await page.click("#songs tbody tr:first-child td:first-child");
    await page.waitForSelector("#song:not([hidden])");
    assert.match(await page.getAttribute("#player", "src"), /^\/api\/sources\/\d+\/audio$/);
    const segments = page.locator("#segments button.segment");
    assert.ok(await segments.count() > 0, "no segment buttons");
    const last = (await segments.count()) - 1;
    const lastStart = Number(await segments.nth(last).getAttribute("data-start"));
    await expectSeek(page, () => segments.nth(last).click(), lastStart);

    // A stretch in a row's timeline plays that song from there.
    const second = page.locator("#songs tbody tr:nth-child(2) .timeline .stretch").first();
    const secondId = await page.getAttribute("#songs tbody tr:nth-child(2)", "data-id");
    const secondStart = Number(await second.getAttribute("data-start"));
    await second.click();
    await page.waitForFunction((id) => document.getElementById("player").src.endsWith(`/api/sources/${id}/audio`), secondId);
    await expectSeek(page, () => second.click(), secondStart);

    // Label this: the song's uncertain clips are queued.
    await page.click("#label-this");
    await page.waitForFunction(() => /clips queued/.test(document.getElementById("label-result").textContent));

    await page.waitForTimeout(300);
    fs.mkdirSync(screenshots, { recursive: true });
    const shot = path.join(screenshots, "library.png");
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.DOCS_SCREENSHOT_LIBRARY) fs.copyFileSync(shot, process.env.DOCS_SCREENSHOT_LIBRARY);

    // The model page counts the scanned songs.
    await page.goto(url + "model");
    await page.waitForFunction(() => /songs scanned/.test(document.getElementById("model-figures").textContent));
    assert.deepEqual(errors, [], "JavaScript errors on the page");
    console.log(`library test passed: ${scanned.length} songs, ${withSax.length} with sax; ` +
      `total ${((Date.now() - started) / 1000).toFixed(0)} s`);
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
