// What the browser tests share: the one way to launch Debian's chromium, running the saxdetect
// CLI on a data home, a small trained library, and starting `saxdetect serve --port 0` on it.
"use strict";

const assert = require("node:assert/strict");
const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { chromium } = require("playwright-core");

const binary = process.env.SAXDETECT_BIN;

// Runs `saxdetect --home HOME ARGS...` and returns its stdout; fails the test on a non-zero exit.
function saxdetect(home, ...args) {
  const result = spawnSync(binary, ["--home", home, ...args], { encoding: "utf8" });
  assert.equal(result.status, 0, `saxdetect ${args.join(" ")} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

// A synthetic library of `songs` 20-s songs in `library`, ingested into `home`, labelled from its
// truth and with a tiny CNN trained on it (small and fast, still enough for a model that finds
// the sax in songs it was trained on); returns the truth's songs.
function trainedLibrary(home, library, songs) {
  const run = (...args) => saxdetect(home, "-q", ...args);
  run("synth", "--out", library, "--songs", String(songs), "--seconds", "20", "--seed", "3", "--format", "wav");
  run("ingest", library);
  run("labels", "import", "--from-truth", path.join(library, "truth.json"));
  const config = path.join(path.dirname(library), "train.json");
  fs.writeFileSync(config, JSON.stringify({
    kind: "cnn",
    features: { n_mels: 64, frames: 54 },
    net: { depth: 3, channels: 8, hidden: 32, dropout: 0.1 },
    augment: false,
    epochs: 20, batch_size: 8, lr: 3e-3, patience: 20, seed: 1, threads: 2,
    validation_fraction: 0.15, test_fraction: 0.1,
  }));
  run("train", "--config", config, "--out", "browser");
  return JSON.parse(fs.readFileSync(path.join(library, "truth.json"), "utf8")).songs;
}

// Starts `saxdetect serve --port 0` and resolves with its URL once it prints it.
function startServer(home) {
  const server = spawn(binary, ["--home", home, "serve", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("serve did not start:\n" + output)), 15000);
    const collect = (chunk) => {
      output += chunk;
      const url = output.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (url) { clearTimeout(timer); resolve({ server, url: url[0] }); }
    };
    server.stdout.on("data", collect);
    server.stderr.on("data", collect);
    server.on("exit", (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
  });
}

// Headless chromium (CHROMIUM, set by run.sh) with a fresh profile under `work`.
async function launchBrowser(work) {
  const profile = fs.mkdtempSync(path.join(work, "profile-"));
  return chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM,
    headless: true,
    viewport: { width: 1200, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--autoplay-policy=no-user-gesture-required"],
  });
}

module.exports = { saxdetect, trainedLibrary, startServer, launchBrowser };
