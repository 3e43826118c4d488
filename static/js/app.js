// Behaviour that a strict CSP would block inline: kept here, loaded from 'self'.
(function () {
  "use strict";
  // htmx does not swap 4xx/5xx answers by default: swap our error fragments
  // (they are plain sentences) into their target, and say so when there is none.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status >= 400 && status < 600 && event.detail.xhr.responseText) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("messages");
    if (box) {
      box.innerHTML = "";
      var p = document.createElement("p");
      p.className = "error";
      p.textContent = "The portal could not be reached. Check your connection and try again.";
      box.appendChild(p);
    }
  });
})();
