/* The payment page's last step: tell the widget (postMessage) or go back to the shop.
   External file so the page works under a strict Content-Security-Policy. */
(function () {
  "use strict";
  var body = document.body;
  var success = body.getAttribute("data-success") === "true";
  var mode = body.getAttribute("data-mode");
  var back = body.getAttribute("data-back");
  if (mode === "widget" && window.parent && window.parent !== window) {
    // The message carries no secret, and the page cannot know the shop's origin: "*".
    window.parent.postMessage(JSON.stringify({ success: success }), "*");
  } else if (mode === "redirect" && back) {
    window.location.assign(back);
  }
})();
