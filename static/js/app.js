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
  // Polled lists ([data-poll]: the walk-in queues, the tutor's Today lists) refresh
  // themselves without losing the user's place: no refresh while the user is choosing
  // in them (focus inside, or a tutor picked in a select), and no swap when nothing
  // changed, so the list doesn't flash.
  function isPoll(event) {
    var elt = event.detail.elt;
    return elt && elt.hasAttribute && elt.hasAttribute("data-poll") &&
      event.detail.requestConfig && event.detail.requestConfig.verb === "get";
  }
  function busy(elt) {
    if (elt.contains(document.activeElement) && document.activeElement !== elt) {
      return true;
    }
    var selects = elt.querySelectorAll("select");
    for (var i = 0; i < selects.length; i++) {
      if (selects[i].value) {
        return true;
      }
    }
    return false;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (isPoll(event) && busy(event.detail.elt)) {
      event.preventDefault();
    }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!isPoll(event) || event.detail.xhr.status !== 200) {
      return;
    }
    var elt = event.detail.elt;
    var text = event.detail.xhr.responseText;
    if (elt.getAttribute("data-poll") === "seen" && elt.vmpLast === text) {
      event.detail.shouldSwap = false;
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-poll") && event.detail.xhr) {
      var fresh = document.getElementById(elt.id) || elt;
      fresh.vmpLast = event.detail.xhr.responseText;
      fresh.setAttribute("data-poll", "seen");
    }
  });

  // A waiting student's tab says when their turn comes (they may be in another tab).
  var baseTitle = document.title;
  function turnTitle() {
    var ready = document.querySelector(".walkin-ready");
    document.title = ready ? "Your turn · Virtual Meetings" : baseTitle;
  }
  document.addEventListener("DOMContentLoaded", turnTitle);
  document.addEventListener("htmx:afterSettle", turnTitle);

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
