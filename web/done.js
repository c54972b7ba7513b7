// The finished page: this annotator's totals.
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  const name = sax.annotator();
  if (!name) return;
  const reply = await sax.request("GET", "/api/progress?annotator=" + encodeURIComponent(name));
  if (!reply.ok) return;
  document.getElementById("done-today").textContent = sax.number(reply.body.today);
  document.getElementById("done-total").textContent = sax.number(reply.body.votes);
});
