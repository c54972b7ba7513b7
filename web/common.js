// Shared by every page: the annotator name, JSON requests, safe DOM building, the header.
// User text only ever enters the page as text nodes (el() and textContent, never as parsed
// HTML), so names and file names cannot inject markup.
"use strict";

const ANNOTATOR_KEY = "saxdetect.annotator";

const sax = {
  annotator() {
    return (localStorage.getItem(ANNOTATOR_KEY) || "").trim();
  },
  setAnnotator(name) {
    localStorage.setItem(ANNOTATOR_KEY, name.trim());
  },
  forgetAnnotator() {
    localStorage.removeItem(ANNOTATOR_KEY);
  },

  // Votes count only under a session: the server keeps it in an HttpOnly cookie and answers
  // with the name it labels as (with a suffix when another labeller holds the name).
  async openSession(name) {
    const reply = await sax.request("POST", "/api/session", { name });
    if (reply.status !== 201) throw new Error(reply.body && reply.body.error || "cannot start labelling");
    sax.setAnnotator(reply.body.name);
    return reply.body.name;
  },
  // This browser's session, opened again for the remembered name when the server has none
  // (restarted); null when there is no name yet.
  async ensureSession() {
    const current = await sax.request("GET", "/api/session");
    if (current.ok) {
      sax.setAnnotator(current.body.name);
      return current.body.name;
    }
    const name = sax.annotator();
    return name ? sax.openSession(name) : null;
  },

  // fetch + JSON; resolves {status, body}; body is null for empty responses (204).
  async request(method, url, body) {
    const options = { method, headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    const text = await response.text();
    let json = null;
    if (text) {
      try { json = JSON.parse(text); } catch (e) { json = { error: text }; }
    }
    return { status: response.status, ok: response.ok, body: json };
  },

  // el("p", {class: "muted"}, "text", child, ...): builds elements; strings become text nodes.
  el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
    }
    return node;
  },

  svg(tag, attributes, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    for (const child of children) node.append(child);
    return node;
  },

  number(n) {
    return Number(n).toLocaleString("en-US");
  },
  percent(fraction) {
    return (100 * fraction).toFixed(fraction > 0 && fraction < 0.1 ? 1 : 0) + "%";
  },

  toast(message) {
    let box = document.querySelector(".toast");
    if (!box) {
      box = sax.el("div", { class: "toast", role: "status" });
      document.body.append(box);
    }
    box.textContent = message;
    box.classList.add("show");
    clearTimeout(sax.toastTimer);
    sax.toastTimer = setTimeout(() => box.classList.remove("show"), 2200);
  },

  // Marks the current page in the header and shows who is labelling.
  header() {
    for (const link of document.querySelectorAll(".topbar nav a"))
      if (link.getAttribute("href") === location.pathname) link.classList.add("active");
    const who = document.querySelector(".who");
    const name = sax.annotator();
    if (!who || !name) return;
    who.replaceChildren("Labelling as ", sax.el("strong", { id: "who-name" }, name),
      sax.el("button", {
        class: "link", type: "button", onclick: () => { sax.forgetAnnotator(); location.href = "/"; }
      }, "change"));
  },
};

document.addEventListener("DOMContentLoaded", () => sax.header());
