// The phone's position, for 志愿活动 with a place on the map (templates/events/*.html).
// [data-locate]: a button that puts the phone's position into the form's latitude and longitude fields (the event's
// place); [data-unlocate] clears them. form[data-needs-location]: a check-in form that sends the phone's position,
// asked for as the page opens. Each says what happened in its [data-location-status] element, in the page's words.
(function () {
  "use strict";

  function locate(onPosition, status) {
    if (!navigator.geolocation) {
      status.textContent = status.dataset.unavailable;
      return;
    }
    status.textContent = status.dataset.asking;
    navigator.geolocation.getCurrentPosition(
      function (position) {
        onPosition(position.coords.latitude.toFixed(6), position.coords.longitude.toFixed(6));
      },
      function () {
        status.textContent = status.dataset.denied;
      },
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 }
    );
  }

  function fields(form) {
    return [form.querySelector("[name=latitude]"), form.querySelector("[name=longitude]")];
  }

  function filling(form, status) {
    return function (latitude, longitude) {
      var inputs = fields(form);
      inputs[0].value = latitude;
      inputs[1].value = longitude;
      status.textContent = status.dataset.located;
    };
  }

  document.querySelectorAll("[data-locate]").forEach(function (button) {
    var form = button.form, status = form.querySelector("[data-location-status]");
    button.addEventListener("click", function () {
      locate(filling(form, status), status);
    });
  });

  document.querySelectorAll("[data-unlocate]").forEach(function (button) {
    var form = button.form, status = form.querySelector("[data-location-status]");
    button.addEventListener("click", function () {
      fields(form).forEach(function (input) { input.value = ""; });
      status.textContent = status.dataset.cleared;
    });
  });

  document.querySelectorAll("form[data-needs-location]").forEach(function (form) {
    var status = form.querySelector("[data-location-status]");
    locate(filling(form, status), status);
  });
})();
