/* 摄像头扫户卡 (the events' 签到台, the shop's counter): the phone's camera reads household cards with jsQR and
   submits each one through the page's card form, exactly as a USB scanner typing into the field would. Once
   started, the camera starts again by itself after every submission (until 关闭摄像头), so card follows card.
   The page provides: <section id="camera" data-starting data-ready data-read data-not-card data-denied
   data-unavailable> holding #camera-start, #camera-video, #camera-status and #camera-stop, and
   <form id="card-form"> with the text field #card. */
(function () {
  "use strict";
  var CARD_PREFIX = "HC-";
  var SAME_CARD_PAUSE_MS = 10000;  // the card just read, still in front of the camera, is not sent again
  var SCAN_EVERY_MS = 150;
  var MAX_WIDTH = 640;
  var STATE = "card-camera:" + location.pathname;
  var LAST = "card-camera-last";

  var box = document.getElementById("camera");
  if (!box) { return; }
  var form = document.getElementById("card-form");
  var field = document.getElementById("card");
  var startButton = document.getElementById("camera-start");
  var stopButton = document.getElementById("camera-stop");
  var video = document.getElementById("camera-video");
  var status = document.getElementById("camera-status");
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  var stream = null;
  var timer = null;

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

  function scan() {
    if (video.readyState < video.HAVE_ENOUGH_DATA || !video.videoWidth) { return; }
    var scale = Math.min(1, MAX_WIDTH / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    var image = context.getImageData(0, 0, canvas.width, canvas.height);
    var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "attemptBoth" });
    if (!code || !code.data) { return; }
    var text = code.data.trim();
    if (text.indexOf(CARD_PREFIX) !== 0) { say(box.dataset.notCard); return; }
    if (text === lastCard()) { return; }
    remember(LAST, text + "\n" + Date.now());
    clearInterval(timer);
    timer = null;
    field.value = text;
    say(box.dataset.read);
    form.submit();
  }

  function start() {
    say(box.dataset.starting);
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
        say(box.dataset.ready);
        timer = setInterval(scan, SCAN_EVERY_MS);
      })
      .catch(function () {
        stop();
        remember(STATE, "off");
        say(box.dataset.denied);
      });
  }

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.jsQR) {
    say(box.dataset.unavailable);
    return;
  }
  startButton.hidden = false;
  startButton.addEventListener("click", start);
  stopButton.addEventListener("click", function () { remember(STATE, "off"); stop(); say(""); });
  if (recalled(STATE) === "on") { start(); }
}());
