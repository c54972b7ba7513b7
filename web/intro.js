// The intro page: asks for the annotator's name and starts labelling.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("start");
  const input = document.getElementById("name");
  const error = document.getElementById("name-error");
  input.value = sax.annotator();

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = input.value.trim();
    // The server checks the same rules; checking here gives the message without a round trip.
    if (!name) return void (error.textContent = "Please enter a name.");
    if (new TextEncoder().encode(name).length > 64)
      return void (error.textContent = "Please use at most 64 characters.");
    if (/[\u0000-\u001f\u007f-\u009f]/.test(name))
      return void (error.textContent = "Please use only printable characters.");
    sax.openSession(name).then(() => (location.href = "/label"),
      (failure) => (error.textContent = failure.message));
  });
});
