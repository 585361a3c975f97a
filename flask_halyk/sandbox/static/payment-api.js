/* flask-halyk sandbox: payment-api.js, the same surface as the bank's script.
 *   halyk.showPaymentWidget(paymentObject, callBk)  overlay + iframe, callBk({success: bool})
 *   halyk.pay(paymentObject)                        full-page redirect to the payment page
 * The payment page is found relative to this script's own src, so the sandbox works wherever
 * it is mounted. No inline styles or eval: styles are set through element.style (CSP-safe).
 */
(function () {
  "use strict";
  var self = document.currentScript;
  if (!self) {
    var all = document.getElementsByTagName("script");
    for (var i = all.length - 1; i >= 0; i--) {
      if (/payment-api\.js(\?|#|$)/.test(all[i].src)) { self = all[i]; break; }
    }
  }
  var pageUrl = new URL("./", self ? self.src : window.location.href);
  var pageOrigin = pageUrl.origin;

  function encode(paymentObject) {
    // base64url of the UTF-8 JSON; the page also accepts the bank's LZString "params".
    var json = JSON.stringify(paymentObject);
    var bytes = new TextEncoder().encode(json);
    var binary = "";
    for (var j = 0; j < bytes.length; j++) { binary += String.fromCharCode(bytes[j]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function pageFor(paymentObject, shortForm) {
    var url = new URL(pageUrl.href);
    url.searchParams.set("object", encode(paymentObject));
    if (shortForm) { url.searchParams.set("isShortForm", "true"); }
    return url.href;
  }

  function setStyle(element, styles) {
    for (var key in styles) {
      if (Object.prototype.hasOwnProperty.call(styles, key)) { element.style[key] = styles[key]; }
    }
  }

  var open = null;

  function close(result) {
    if (!open) { return; }
    var current = open;
    open = null;
    window.removeEventListener("message", current.listener);
    if (current.overlay.parentNode) { current.overlay.parentNode.removeChild(current.overlay); }
    if (typeof current.callback === "function") { current.callback(result); }
  }

  function showPaymentWidget(paymentObject, callBk) {
    if (open) { close({ success: false }); }
    var overlay = document.createElement("div");
    overlay.id = "halyk-sandbox-widget";
    setStyle(overlay, {
      position: "fixed", top: "0", left: "0", width: "100%", height: "100%",
      background: "rgba(0,0,0,0.55)", zIndex: "2147483647", display: "flex",
      alignItems: "center", justifyContent: "center"
    });
    var frame = document.createElement("iframe");
    frame.title = "ePay payment";
    frame.src = pageFor(paymentObject, true);
    setStyle(frame, {
      width: "420px", maxWidth: "96%", height: "620px", maxHeight: "96%", border: "0",
      borderRadius: "8px", background: "#fff"
    });
    var closer = document.createElement("button");
    closer.type = "button";
    closer.textContent = "\u00d7";
    closer.setAttribute("aria-label", "Close");
    setStyle(closer, {
      position: "absolute", top: "12px", right: "16px", fontSize: "28px", color: "#fff",
      background: "transparent", border: "0", cursor: "pointer"
    });
    closer.addEventListener("click", function () { close({ success: false }); });
    overlay.appendChild(frame);
    overlay.appendChild(closer);
    var listener = function (event) {
      if (event.origin !== pageOrigin || event.source !== frame.contentWindow) { return; }
      var data = event.data;
      if (typeof data === "string") {
        try { data = JSON.parse(data); } catch (e) { return; }
      }
      if (!data || typeof data.success !== "boolean") { return; }
      close({ success: data.success });
    };
    open = { overlay: overlay, listener: listener, callback: callBk };
    window.addEventListener("message", listener);
    document.body.appendChild(overlay);
  }

  function pay(paymentObject) {
    window.location.assign(pageFor(paymentObject, false));
  }

  window.halyk = { showPaymentWidget: showPaymentWidget, pay: pay };
})();
