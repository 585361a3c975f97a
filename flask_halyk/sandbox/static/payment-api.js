/* flask-halyk sandbox: payment-api.js, with the surface and the behaviour of the bank's script
 * (written here from PROTOCOL.md; nothing of the bank's file is copied):
 *   halyk.Config()                                  {pageUrL, origin, TokenAPIConfig}
 *   halyk.showPaymentWidget(paymentObject, callBk)  overlay + iframe, callBk({success: bool})
 *   halyk.pay(paymentObject)                        the whole page to the payment page
 *   halyk.p2p / halyk.aft / halyk.oct               the same with &isTransfer / &isAFT / &isOCT
 * As the bank's script does, it
 *   - hands the object over as ?params=<LZString.compressToEncodedURIComponent(encodeParams(o))>,
 *     a nested object (auth) being ONE value: its own k=v&... text URI-encoded again;
 *   - extends an existing window.halyk rather than replacing it;
 *   - injects a <style> element for its classes (widgetScreen, iframeBox, iframeHolder,
 *     iframeClass): a page's CSP must allow it in style-src (HalykEpay.csp_sources says so);
 *   - has no close button: only the payment page's {"success": bool} message closes the
 *     overlay, and callBk is called before the overlay is removed.
 * It finds the payment page next to its own src, so the sandbox works on its own port or under
 * a prefix in the shop. No eval.
 */
var halyk;
(function (halyk) {
  "use strict";

  var self = document.currentScript;
  if (!self) {
    var scripts = document.getElementsByTagName("script");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/payment-api\.js(\?|#|$)/.test(scripts[i].src)) { self = scripts[i]; break; }
    }
  }
  var base = new URL("./", self ? self.src : window.location.href);
  var config = {
    pageUrL: base.href,
    origin: base.origin,
    TokenAPIConfig: { url: new URL("../oauth2/token", base).href, clientId: "test" }
  };

  /* LZ-String 1.4.4's compressToEncodedURIComponent, from its algorithm: LZW over the string's
     UTF-16 code units, codes written least significant bit first in a growing width, the bit
     stream cut into 6-bit characters of a URI-safe alphabet. Tested against the npm package's
     own output (tests/sandbox/test_widget_browser.py). */
  var URI_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-$";

  function compressToEncodedURIComponent(text) {
    if (text === null || text === undefined) { return ""; }
    var codes = Object.create(null);     /* phrase -> its code */
    var unwritten = Object.create(null); /* units with a code, not yet written out */
    var nextCode = 3;                    /* 0: an 8-bit unit follows, 1: 16-bit, 2: the end */
    var width = 2;
    var enlargeIn = 2;
    var chars = [];
    var bits = 0;
    var count = 0;

    function write(code, size) {
      for (var n = 0; n < size; n++) {
        bits = (bits << 1) | (code & 1);
        code >>= 1;
        if (++count === 6) { chars.push(URI_SAFE.charAt(bits)); bits = 0; count = 0; }
      }
    }

    function used() {
      if (--enlargeIn === 0) { enlargeIn = Math.pow(2, width); width++; }
    }

    function emit(phrase) {
      if (unwritten[phrase]) {
        var unit = phrase.charCodeAt(0);
        if (unit < 256) { write(0, width); write(unit, 8); }
        else { write(1, width); write(unit, 16); }
        used();
        delete unwritten[phrase];
      } else {
        write(codes[phrase], width);
      }
      used();
    }

    var phrase = "";
    for (var k = 0; k < text.length; k++) {
      var unit = text.charAt(k);
      if (!(unit in codes)) { codes[unit] = nextCode++; unwritten[unit] = true; }
      var longer = phrase + unit;
      if (longer in codes) { phrase = longer; continue; }
      emit(phrase);
      codes[longer] = nextCode++;
      phrase = unit;
    }
    if (phrase !== "") { emit(phrase); }
    write(2, width);
    chars.push(URI_SAFE.charAt(bits << (6 - count)));
    return chars.join("");
  }

  /* PROTOCOL.md: "" for null/undefined, "" + v for anything not an object, else the pairs
     name=encodeURIComponent(encode(value)) joined with "&", in the object's key order. */
  function encodeParams(value) {
    if (value === undefined || value === null) { return ""; }
    if (typeof value !== "object") { return "" + value; }
    var pairs = [];
    for (var name in value) {
      if (name) { pairs.push(name + "=" + encodeURIComponent(encodeParams(value[name]))); }
    }
    return pairs.join("&");
  }

  function pageFor(params) {
    return halyk.Config().pageUrL + "?params=" + compressToEncodedURIComponent(encodeParams(params));
  }

  var STYLE =
    ".widgetScreen{position:fixed;top:0;right:0;bottom:0;left:0;z-index:1000;" +
    "background-color:rgba(5,5,5,0.5);display:flex;justify-content:center;align-items:center}" +
    ".iframeBox{position:relative;width:400px;z-index:1010;border-radius:4px;" +
    "background-color:#fff;scrollbar-width:none}" +
    ".iframeHolder{width:100%;height:100%}" +
    ".iframeHolder::-webkit-scrollbar{display:none}" +
    ".iframeClass{width:100%;height:90vh;border:none}";

  function addStyle() {
    var style = document.createElement("style");
    style.textContent = STYLE;
    (document.head || document.documentElement).appendChild(style);
  }

  function element(tag, className) {
    var node = document.createElement(tag);
    node.className = className;
    return node;
  }

  var callBack;
  var widget;
  var listening = false;

  function onMessage(event) {
    if (!widget || event.origin !== config.origin) { return; }
    var result;
    try { result = JSON.parse(event.data); } catch (e) { return; }
    var node = widget;
    /* The bank's order: the shop hears the outcome, then the overlay goes. */
    callBack({ success: !!result && result.success === true });
    if (node.parentNode) { node.parentNode.removeChild(node); }
    widget = undefined;
  }

  function showPaymentWidget(params, callBk) {
    callBack = callBk;
    if (widget) { return; }
    addStyle();
    widget = element("div", "widgetScreen");
    var box = element("div", "iframeBox");
    var holder = element("div", "iframeHolder");
    var frame = element("iframe", "iframeClass");
    frame.src = pageFor(params) + "&isShortForm=true";
    holder.appendChild(frame);
    box.appendChild(holder);
    widget.appendChild(box);
    if (!listening) { window.addEventListener("message", onMessage, false); listening = true; }
    document.body.appendChild(widget);
  }

  function go(params, flag) {
    window.location.href = pageFor(params) + flag;
  }

  halyk.Config = function Config() { return config; };
  halyk.pay = function pay(params) { go(params, ""); };
  halyk.p2p = function p2p(params) { go(params, "&isTransfer=true"); };
  halyk.aft = function aft(params) { go(params, "&isAFT=true"); };
  halyk.oct = function oct(params) { go(params, "&isOCT=true"); };
  halyk.showPaymentWidget = showPaymentWidget;
})(halyk || (halyk = {}));
