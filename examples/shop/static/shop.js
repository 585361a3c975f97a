/* The shop's only script (loaded with the page's CSP nonce).
 *
 * The widget's callback and the return from the bank's page are only hints: the order's status
 * comes from the shop's server, which learns it from the bank's postLink. So both just poll
 * the server until the ledger knows the outcome. */
(function () {
  "use strict";

  var POLL_MS = 1000;
  var POLL_TRIES = 90;

  function orderSection() { return document.getElementById("order"); }

  function show(status) {
    var section = orderSection();
    section.dataset.status = status;
    document.getElementById("payment-status").textContent = status;
    var pay = document.querySelector(".pay");
    if (pay && status !== "new") { pay.hidden = true; }
  }

  function poll(tries) {
    var section = orderSection();
    if (!section || section.dataset.status !== "new") { return; }
    fetch(section.dataset.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data.status && data.status !== "new") { show(data.status); }
        else if (tries > 0) { setTimeout(function () { poll(tries - 1); }, POLL_MS); }
      })
      .catch(function () {
        if (tries > 0) { setTimeout(function () { poll(tries - 1); }, POLL_MS); }
      });
  }

  window.shop = {
    /* callBk of the payment widget: {success: bool}. */
    onWidgetClosed: function (result) {
      var ok = !!(result && result.success);
      var note = document.getElementById("widget-result");
      note.hidden = false;
      note.dataset.success = String(ok);
      note.textContent = ok
        ? "The bank's form reports success; waiting for the bank's confirmation..."
        : "The payment did not go through.";
      poll(POLL_TRIES);
    }
  };

  document.addEventListener("DOMContentLoaded", function () {
    if (/[?&]returned=/.test(window.location.search)) { poll(POLL_TRIES); }
  });
})();
