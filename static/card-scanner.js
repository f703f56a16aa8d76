/* 摄像头扫户卡 (the events' 签到台, the shop's counter): the phone's camera reads household cards and submits each
   one through the page's card form, exactly as a USB scanner typing into the field would. Once started, the camera
   starts again by itself after every submission (until 关闭摄像头), so card follows card.
   The browser's own BarcodeDetector reads the codes where it has one for QR codes (Chrome on Android); elsewhere
   jsQR does, fetched only then, from the URL in this script tag's data-jsqr (same origin, so the CSP allows it).
   The page provides: <script src=".../card-scanner.js" data-jsqr data-jsqr-failed>, <section id="camera"
   data-starting data-ready data-read data-not-card data-denied data-unavailable> holding #camera-start,
   #camera-video, #camera-status and #camera-stop, and <form id="card-form"> with the text field #card. */
(function () {
  "use strict";
  var CARD_PREFIX = "HC-";
  var SAME_CARD_PAUSE_MS = 10000;  // the card just read, still in front of the camera, is not sent again
  var SCAN_EVERY_MS = 150;
  var MAX_WIDTH = 640;
  var STATE = "card-camera:" + location.pathname;
  var LAST = "card-camera-last";

  var box = document.getElementById("camera");
  var tag = document.querySelector("script[data-jsqr]");  // this script's own tag
  if (!box || !tag) { return; }
  var form = document.getElementById("card-form");
  var field = document.getElementById("card");
  var startButton = document.getElementById("camera-start");
  var stopButton = document.getElementById("camera-stop");
  var video = document.getElementById("camera-video");
  var status = document.getElementById("camera-status");
  var stream = null;
  var timer = null;
  var reading = null;  // a promise of the reader: function () -> promise of the text of a code in view, or null
  var read = null;     // that reader, once the camera runs
  var busy = false;    // a frame is being read

  function say(text) { status.textContent = text; }

  function remember(key, value) {
    try { sessionStorage.setItem(key, value); } catch (e) { /* private mode: the camera just won't restart */ }
  }

  function recalled(key) {
    try { return sessionStorage.getItem(key); } catch (e) { return null; }
  }

  function lastCard() {
    var last = (recalled(LAST) || "").split("\n");
    return Date.now() - Number(last[1] || 0) < SAME_CARD_PAUSE_MS ? last[0] : null;
  }

  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); stream = null; }
    video.hidden = true;
    stopButton.hidden = true;
    startButton.hidden = false;
  }

  function nativeReader() {
    if (!window.BarcodeDetector || !window.BarcodeDetector.getSupportedFormats) { return Promise.resolve(null); }
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("qr_code") < 0) { return null; }
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      return function () {
        return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
      };
    }).catch(function () { return null; });
  }

  function loadJsQR() {
    if (window.jsQR) { return Promise.resolve(); }
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = tag.dataset.jsqr;
      script.onload = resolve;
      script.onerror = function () { script.remove(); reject(new Error("jsQR")); };
      document.head.appendChild(script);
    });
  }

  function jsQRReader() {
    var canvas = document.createElement("canvas");
    var context = canvas.getContext("2d", { willReadFrequently: true });
    return loadJsQR().then(function () {
      return function () {
        var scale = Math.min(1, MAX_WIDTH / video.videoWidth);
        canvas.width = Math.round(video.videoWidth * scale);
        canvas.height = Math.round(video.videoHeight * scale);
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        var image = context.getImageData(0, 0, canvas.width, canvas.height);
        var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "attemptBoth" });
        return Promise.resolve(code ? code.data : null);
      };
    });
  }

  function reader() {
    if (!reading) {
      reading = nativeReader().then(function (native) { return native || jsQRReader(); });
      reading.catch(function () { reading = null; });  // a failed download is tried again at the next start
    }
    return reading;
  }

  function found(data) {
    var text = (data || "").trim();
    if (!text || timer === null) { return; }
    if (text.indexOf(CARD_PREFIX) !== 0) { say(box.dataset.notCard); return; }
    if (text === lastCard()) { return; }
    remember(LAST, text + "\n" + Date.now());
    clearInterval(timer);
    timer = null;
    field.value = text;
    say(box.dataset.read);
    form.submit();
  }

  function scan() {
    if (busy || video.readyState < video.HAVE_ENOUGH_DATA || !video.videoWidth) { return; }
    busy = true;
    Promise.resolve().then(read).then(function (text) { busy = false; found(text); }, function () { busy = false; });
  }

  function start() {
    say(box.dataset.starting);
    var readerReady = reader();  // fetches jsQR, if needed, while the camera opens
    navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        video.hidden = false;
        startButton.hidden = true;
        stopButton.hidden = false;
        remember(STATE, "on");
        return video.play();
      })
      .then(function () {
        return readerReady.catch(function () { throw new Error("reader"); });
      })
      .then(function (chosen) {
        read = chosen;
        say(box.dataset.ready);
        timer = setInterval(scan, SCAN_EVERY_MS);
      })
      .catch(function (error) {
        stop();
        remember(STATE, "off");
        say(error && error.message === "reader" ? tag.dataset.jsqrFailed : box.dataset.denied);
      });
  }

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say(box.dataset.unavailable);
    return;
  }
  startButton.hidden = false;
  startButton.addEventListener("click", start);
  stopButton.addEventListener("click", function () { remember(STATE, "off"); stop(); say(""); });
  if (recalled(STATE) === "on") { start(); }
}());
