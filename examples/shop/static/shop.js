/* The shop's only script (loaded with the page's CSP nonce).
 *
 * The widget's callback and the return from the bank's page are only hints: the order's status
 * comes from the shop's server, which learns it from the bank's postLink. So both just poll
 * the server until the ledger knows the outcome, then show it as the rendered page would after
 * a reload: the status and its message, no pay buttons, a retry after a decline. Every text
 * comes from the server (data attributes, status.json), in the visitor's language. */
(function () {
  "use strict";

  var POLL_MS = 1000;
  var POLL_TRIES = 90;

  function byId(id) { return document.getElementById(id); }

  function reveal(id, visible) {
    var element = byId(id);
    if (element) { element.hidden = !visible; }
  }

  /* The ledger's final word (status.json): what the server renders for it. */
  function showFinal(data) {
    var section = byId("order");
    section.dataset.status = data.status;
    var shown = byId("payment-status");
    shown.dataset.status = data.status;
    shown.textContent = data.label;
    // No way to pay an invoice that is settled: the rendered page has no pay section either.
    var pay = document.querySelector(".pay");
    if (pay) { pay.parentNode.removeChild(pay); }
    reveal("widget-result", false);
    var message = byId("status-message");
    message.textContent = data.message || "";
    message.className = "status-message " + data.status;
    message.hidden = !data.message;
    reveal("retry-form", data.status === "failed");
    reveal("fulfilled", !!data.fulfilled);
  }

  function poll(tries) {
    var section = byId("order");
    if (!section) { return; }
    function again() {
      if (tries > 0) { setTimeout(function () { poll(tries - 1); }, POLL_MS); }
    }
    fetch(section.dataset.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (!data.final) { again(); return; }
        showFinal(data);
        // Fulfilment runs just after the ledger records the success: wait for it too.
        if (data.success && !data.fulfilled) { again(); }
      })
      .catch(again);
  }

  window.shop = {
    /* callBk of the payment widget: {success: bool}. */
    onWidgetClosed: function (result) {
      var ok = !!(result && result.success);
      var note = byId("widget-result");
      if (byId("order").dataset.status === "new") {
        note.hidden = false;
        note.dataset.success = String(ok);
        note.textContent = ok ? note.dataset.textSuccess : note.dataset.textFailure;
      }
      poll(POLL_TRIES);
    }
  };

  document.addEventListener("DOMContentLoaded", function () {
    var section = byId("order");
    if (section && section.dataset.status === "new" && /[?&]returned=/.test(window.location.search)) {
      poll(POLL_TRIES);
    }
  });
})();
