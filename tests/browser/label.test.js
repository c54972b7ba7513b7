// End-to-end: intro page -> name -> label every clip by keyboard (with one undo) -> finished
// page -> the store holds exactly those votes. Saves screenshots of the labelling and status
// pages. Run through run.sh, which sets SAXDETECT_BIN, CHROMIUM and SCREENSHOT_DIR.
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const harness = require("./harness");

const screenshots = process.env.SCREENSHOT_DIR;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "saxdetect-browser-"));
const home = path.join(work, "home");
// A name full of markup: it must show as text everywhere, never as HTML.
const annotator = "Ana <b>bold</b> & co";

// 16-bit mono WAV of a few harmonics with vibrato, so the spectrogram has something to show.
function writeSong(file, seconds, baseHz) {
  const rate = 22050, n = seconds * rate;
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const hz = baseHz * (1 + 0.01 * Math.sin(2 * Math.PI * 5 * t)) * (1 + Math.floor(t) % 3 * 0.25);
    let v = 0;
    for (let h = 1; h <= 5; h++) v += Math.sin(2 * Math.PI * hz * h * t) / (h * 2);
    data.writeInt16LE(Math.round(8000 * v), i * 2);
  }
  const header = Buffer.alloc(44);
  header.write("RIFF", 0); header.writeUInt32LE(36 + data.length, 4); header.write("WAVE", 8);
  header.write("fmt ", 12); header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22); header.writeUInt32LE(rate, 24); header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32); header.writeUInt16LE(16, 34); header.write("data", 36);
  header.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([header, data]));
}

const saxdetect = (...args) => harness.saxdetect(home, ...args);

function makeLibrary() {
  const music = path.join(work, "music");
  fs.mkdirSync(music);
  writeSong(path.join(music, "first.wav"), 10, 220);
  writeSong(path.join(music, "second.wav"), 10, 330);
  saxdetect("ingest", music);
  const status = JSON.parse(saxdetect("status", "--json"));
  assert.ok(status.samples >= 4, `ingest made ${status.samples} samples`);
  return status.samples - status.silent;
}

async function clipId(page) {
  const text = await page.textContent("#clip");
  const match = text.match(/Clip (\d+)/);
  return match ? Number(match[1]) : null;
}

// Presses a vote key and waits until another clip (or the finished page) is on screen.
async function voteWith(page, key) {
  const before = await clipId(page);
  await page.keyboard.press(key);
  await page.waitForFunction((id) => location.pathname === "/done" ||
    !document.getElementById("clip").textContent.includes("Clip " + id + " "), before);
  return before;
}

async function main() {
  const clips = makeLibrary();
  const { server, url } = await harness.startServer(home);
  const context = await harness.launchBrowser(work);
  try {
    const page = context.pages()[0] || await context.newPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(error.message));

    // Intro: explains the instruments, asks for a name.
    await page.goto(url);
    assert.match(await page.textContent("h1"), /saxophone/);
    assert.ok((await page.textContent("main")).includes("Baritone sax"));
    await page.fill("#name", annotator);
    await page.click("button[type=submit]");
    await page.waitForURL(/\/label$/);
    await page.waitForFunction(() => /Clip \d+/.test(document.getElementById("clip").textContent));
    await page.waitForFunction(() => document.getElementById("spectrogram").naturalWidth > 0);
    assert.equal(await page.textContent("#who-name"), annotator);
    assert.equal(await page.locator(".who b").count(), 0, "the name was rendered as HTML");

    // Screenshot while the clip plays (playhead moving).
    await page.waitForTimeout(1200);
    fs.mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: path.join(screenshots, "labelling.png") });

    // Label everything by keyboard: S, N, then undo the N, then S/U/N... until finished.
    const voted = new Map();
    voted.set(await voteWith(page, "s"), "sax");
    const undone = await voteWith(page, "n");
    await page.keyboard.press("z");
    await page.waitForFunction((id) => document.getElementById("clip").textContent.includes("Clip " + id + " "), undone);
    const keys = { s: "sax", u: "unsure", n: "not_sax" };
    const order = ["u", "n", "s"];
    for (let i = 0; page.url().endsWith("/label"); i++) {
      assert.ok(i <= clips, "more clips offered than exist");
      const key = order[i % order.length];
      voted.set(await voteWith(page, key), keys[key]);
    }
    await page.waitForURL(/\/done$/);
    await page.waitForFunction(() => document.getElementById("done-total").textContent !== "0");
    assert.equal(Number(await page.textContent("#done-total")), clips);

    // The store holds exactly one vote per clip, with the keys pressed (the undo took one back).
    const status = await (await page.request.get(url + "api/status")).json();
    assert.equal(status.votes, clips);
    assert.equal(voted.size, clips);
    assert.equal(status.annotators.length, 1);
    assert.equal(status.annotators[0].name, annotator);
    const expected = { sax: 0, not_sax: 0, unsure: 0 };
    for (const label of voted.values()) expected[label]++;
    assert.deepEqual(status.labels, expected);
    const cli = JSON.parse(saxdetect("status", "--json"));
    assert.equal(cli.votes, clips);

    // The intro's form opened a session: an HttpOnly, SameSite=Strict cookie. Without it
    // nobody votes or undoes as this name.
    const [session] = (await context.cookies()).filter((c) => c.name === "saxdetect_session");
    assert.ok(session && session.httpOnly && session.sameSite === "Strict", "session cookie");
    assert.equal(await page.evaluate(() => document.cookie.includes("saxdetect_session")), false);
    const forged = await fetch(url + "api/labels/last?annotator=" + encodeURIComponent(annotator),
      { method: "DELETE" });
    assert.equal(forged.status, 401);

    // Status page: the name appears as text in the table, never as markup.
    await page.goto(url + "status");
    await page.waitForSelector("#annotators tbody tr");
    assert.equal(await page.textContent("#annotators tbody td"), annotator);
    assert.equal(await page.locator("#annotators b").count(), 0);
    await page.screenshot({ path: path.join(screenshots, "status.png"), fullPage: true });

    await page.goto(url + "model");
    await page.waitForFunction(() => !document.getElementById("model-summary").textContent.includes("Loading"));
    assert.match(await page.textContent("#model-summary"), /saxdetect train/);

    assert.deepEqual(errors, [], "JavaScript errors on the pages");
    console.log(`browser test passed: ${clips} clips labelled, screenshots in ${screenshots}`);
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
