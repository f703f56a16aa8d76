// Photos chosen in a form's <input type="file" data-shrink> (积分申报, the shop's products): each is drawn on a canvas
// and sent as a JPEG of at most 1600 px on its longer side, shown as a small preview under the field, and the form
// goes with a progress bar. A camera's 4000 × 3000 photo of 4 MB leaves the phone as ~270 KB: 3 s on 3G's upload,
// not 45. Without this script, or for a photo the browser cannot draw, the chosen file is sent as it is;
// the server checks and shrinks every photo either way (points/media.py). The words and the server's size limit
// come from this script's tag (templates/photo_script.html).
(function () {
  "use strict";
  // 0.8, not 0.85: a fifth fewer bytes (a camera photo of a yard: ~270 KB, not ~340 KB; 3G's upload is ~90 KB/s), and
  // no visible loss, the server storing it again at 82 (points/media.py).
  var MAX_SIDE = 1600, QUALITY = 0.8, PREVIEW_SIDE = 96;
  var ACCEPTED = /^image\/(jpeg|png|webp)$/;  // what the server takes as it is
  var tag = document.currentScript;
  if (!tag || !window.FormData || !window.Promise || !window.WeakSet || !window.HTMLCanvasElement ||
      !HTMLCanvasElement.prototype.toBlob || !("upload" in new XMLHttpRequest())) {
    return;  // the form posts as it would without this script
  }
  var words = tag.dataset, maxBytes = parseInt(words.maxBytes, 10) || 0;

  function megabytes(bytes) {
    return (bytes / 1048576).toFixed(1) + " MB";
  }

  // The picture upright: createImageBitmap turns it by its EXIF orientation; without it (Safari before 15), an <img> of
  // a data: URL (the CSP allows no blob: images), which today's browsers turn upright too.
  function decode(file) {
    if (!window.createImageBitmap) {
      return viaImage(file);
    }
    return createImageBitmap(file, { imageOrientation: "from-image" })  // an older browser may not know the option
      .catch(function () { return createImageBitmap(file); });
  }

  function viaImage(file) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onerror = reject;
      reader.onload = function () {
        var image = new Image();
        image.onload = function () { resolve(image); };
        image.onerror = reject;
        image.src = reader.result;
      };
      reader.readAsDataURL(file);
    });
  }

  function fitted(width, height, side) {
    var scale = Math.min(1, side / Math.max(width, height));
    return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
  }

  function drawn(source, size) {
    var canvas = document.createElement("canvas");
    canvas.width = size[0];
    canvas.height = size[1];
    var context = canvas.getContext("2d");
    context.fillStyle = "#fff";  // a transparent PNG turns white, not black
    context.fillRect(0, 0, size[0], size[1]);
    context.imageSmoothingQuality = "high";
    context.drawImage(source, 0, 0, size[0], size[1]);
    return canvas;
  }

  function jpegName(name) {
    return (name || "").replace(/\.[^.]*$/, "") + ".jpg";
  }

  // One photo, ready to send: {file, name, preview, original}. The original is kept when drawing fails, or when it
  // is no larger than 1600 px and smaller than its JPEG would be.
  function shrink(file) {
    return decode(file).then(function (picture) {
      var width = picture.width, height = picture.height, size = fitted(width, height, MAX_SIDE);
      var canvas = drawn(picture, size);
      if (picture.close) {
        picture.close();  // the decoded 12 megapixels go now, not when the page does
      }
      var preview = drawn(canvas, fitted(size[0], size[1], PREVIEW_SIDE * (window.devicePixelRatio || 1)));
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          var keep = !blob || (size[0] === width && blob.size >= file.size && ACCEPTED.test(file.type));
          canvas.width = canvas.height = 0;
          resolve({ file: keep ? file : blob, name: keep ? file.name : jpegName(file.name), preview: preview,
                    original: file });
        }, "image/jpeg", QUALITY);
      });
    }).catch(function () {
      return { file: file, name: file.name, preview: null, original: file };
    });
  }

  function shown(photo) {
    var figure = document.createElement("figure");
    if (photo.preview) {
      figure.appendChild(photo.preview);
    }
    var caption = document.createElement("figcaption");
    caption.textContent = photo.file === photo.original ? megabytes(photo.file.size)
      : megabytes(photo.original.size) + " → " + megabytes(photo.file.size);
    figure.appendChild(caption);
    return figure;
  }

  // A file field's chosen photos, shrunk one at a time (a cheap phone holds one decoded photo at once), each shown as
  // soon as it is ready. field.pending: the promise of them all, or null while none is chosen.
  function watchField(input) {
    var field = { input: input, pending: null, list: document.createElement("div") };
    field.list.className = "photo-previews";
    input.insertAdjacentElement("afterend", field.list);
    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files || []), photos = [], pending;
      field.list.textContent = "";
      pending = files.reduce(function (chain, file) {
        return chain.then(function () { return shrink(file); }).then(function (photo) {
          photos.push(photo);
          if (field.pending === pending) {  // not a choice made over since
            field.list.appendChild(shown(photo));
          }
        });
      }, Promise.resolve()).then(function () { return photos; });
      field.pending = files.length ? pending : null;
    });
    return field;
  }

  // Where the form says what it is doing: a line of words and a <progress>, just above its button.
  function statusOf(form) {
    var box = document.createElement("div"), line = document.createElement("p"), bar = document.createElement("progress");
    var button = form.querySelector("[type=submit]");
    box.className = "upload-status";
    box.setAttribute("role", "status");
    bar.max = 100;
    box.appendChild(line);
    box.appendChild(bar);
    if (button) {
      button.parentNode.insertBefore(box, button);
    } else {
      form.appendChild(box);
    }
    box.hidden = true;
    return {
      preparing: function () {
        box.hidden = false;
        line.className = "";
        line.textContent = words.preparing;
        bar.hidden = false;
        bar.removeAttribute("value");  // moving, with no figure yet
        box.scrollIntoView({ block: "nearest" });
      },
      progress: function (fraction) {
        var percent = Math.min(100, Math.floor(fraction * 100));
        line.textContent = words.sending + " " + percent + "%";
        bar.value = percent;
      },
      failed: function (message) {
        box.hidden = false;
        line.className = "field-error";
        line.textContent = message;
        bar.hidden = true;
      }
    };
  }

  // The server's answer in place of this page, at the address it came from: the claim it made (after the redirect),
  // or the form again with its refusal. Back from a new address shows the form as the browser fetches it anew.
  function replacePage(xhr) {
    var address = xhr.responseURL || window.location.href;
    if (!/^text\/html/.test(xhr.getResponseHeader("Content-Type") || "")) {
      window.location.assign(address);
      return;
    }
    var moved = address !== window.location.href;
    if (moved) {
      window.history.pushState(null, "", address);
    }
    document.open();
    document.write(xhr.responseText);
    document.close();
    if (moved) {
      window.addEventListener("popstate", function () { window.location.reload(); });
    }
  }

  function send(form, data, status, fail) {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        status.progress(event.loaded / event.total);
      }
    });
    xhr.addEventListener("load", function () { replacePage(xhr); });
    ["error", "abort", "timeout"].forEach(function (name) {
      xhr.addEventListener(name, function () { fail(words.failed); });
    });
    status.progress(0);
    xhr.send(data);
  }

  // The form with the shrunk photos in place of the chosen ones, each under its field's name; null (and the reason
  // shown) when a photo that could not be shrunk is over the server's limit: it is not sent only to be refused.
  function formData(form, fields, lists, submitter) {
    var data;
    try {
      data = new FormData(form, submitter);
    } catch (error) {
      data = new FormData(form);
    }
    for (var i = 0; i < fields.length; i++) {
      var name = fields[i].input.name;
      data.delete(name);
      for (var j = 0; j < lists[i].length; j++) {
        var photo = lists[i][j];
        if (maxBytes && photo.file.size > maxBytes) {
          return null;
        }
        data.append(name, photo.file, photo.name);
      }
    }
    return data;
  }

  function watchForm(form, fields) {
    var status = statusOf(form), button = form.querySelector("[type=submit]"), sending = false;
    function fail(message) {
      status.failed(message);
      sending = false;
      if (button) {
        button.disabled = false;
      }
    }
    form.addEventListener("submit", function (event) {
      var chosen = fields.filter(function (field) { return field.pending; });
      if (!chosen.length || event.defaultPrevented) {
        return;  // no photo chosen: the form goes as it is
      }
      event.preventDefault();
      if (sending) {
        return;  // a second tap: the first one's photos are on their way
      }
      sending = true;
      if (button) {
        button.disabled = true;
      }
      status.preparing();
      Promise.all(chosen.map(function (field) { return field.pending; })).then(function (lists) {
        var data = formData(form, chosen, lists, event.submitter);
        if (data === null) {
          fail(words.tooLarge);
        } else {
          send(form, data, status, fail);
        }
      }).catch(function () { fail(words.failed); });
    });
  }

  // A page that loads this script twice still sends each form once; a page written in this one's place (the
  // server's answer) has new forms, watched anew.
  var watched = window.photoForms || (window.photoForms = new WeakSet()), forms = [];
  document.querySelectorAll("input[type=file][data-shrink]").forEach(function (input) {
    if (input.form && input.form.method === "post" && !watched.has(input.form)) {
      watched.add(input.form);
      forms.push(input.form);
    }
  });
  forms.forEach(function (form) {
    var inputs = form.querySelectorAll("input[type=file][data-shrink]");
    watchForm(form, Array.prototype.map.call(inputs, watchField));
  });
})();
