/* Shared helpers of the pages: API calls with the CSRF token, one live event stream, formatting. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /** An API error with the server's code, message and field. */
  function ApiError(status, code, message, field, body) {
    this.status = status; this.code = code; this.message = message; this.field = field; this.body = body;
  }
  ApiError.prototype = Object.create(Error.prototype);

  /** Call the JSON API with the session cookie; rejects with ApiError (status 0 = server unreachable). */
  function api(method, path, body) {
    var opts = { method: method, credentials: "same-origin",
                 headers: { "Accept": "application/json", "X-CSRF-Token": csrfToken() } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (res) {
      var type = res.headers.get("Content-Type") || "";
      var read = type.indexOf("json") >= 0 ? res.json() : res.text();
      return read.then(function (data) {
        if (res.ok) return data;
        var err = (data && data.error) || {};
        throw new ApiError(res.status, err.code || "http_" + res.status,
                           err.message || ("the server answered " + res.status), err.field, data);
      });
    }, function () {
      throw new ApiError(0, "unreachable", "The server cannot be reached.", null, null);
    });
  }

  /**
   * One Server-Sent Events stream for the whole page, reconnecting with backoff.
   * handlers: {eventName: fn(data)}; onStatus(state, retrySeconds) with state "ok" | "lost" | "connecting".
   */
  function LiveStream(url, handlers, onStatus) {
    this.url = url; this.handlers = handlers; this.onStatus = onStatus || function () {};
    this.delay = 1; this.source = null; this.timer = null;
    // the last event id seen: a reconnect after a network loss resumes there (the server replays what
    // was missed); a new EventSource cannot set Last-Event-ID itself, so it goes in the query
    this.lastId = null;
  }
  LiveStream.prototype.start = function () {
    var self = this;
    if (self.timer) { clearTimeout(self.timer); self.timer = null; }
    self.onStatus("connecting");
    var url = self.lastId === null ? self.url
      : self.url + (self.url.indexOf("?") < 0 ? "?" : "&") + "lastEventId=" + encodeURIComponent(self.lastId);
    var source = self.source = new EventSource(url, { withCredentials: true });
    source.addEventListener("open", function () { self.delay = 1; self.onStatus("ok"); });
    Object.keys(self.handlers).forEach(function (name) {
      source.addEventListener(name, function (ev) {
        var data;
        if (ev.lastEventId) self.lastId = ev.lastEventId;
        try { data = JSON.parse(ev.data); } catch (e) { return; }
        self.handlers[name](data);
      });
    });
    source.addEventListener("error", function () {
      // shown at once; our own backoff instead of the browser's fixed retry
      source.close();
      var wait = self.delay;
      self.delay = Math.min(self.delay * 2, 30);
      self.onStatus("lost", wait);
      self.timer = setTimeout(function () { self.start(); }, wait * 1000);
    });
  };
  LiveStream.prototype.stop = function () {
    this.lastId = null;  // a deliberate restart (resync) starts from a fresh snapshot
    if (this.source) this.source.close();
    if (this.timer) clearTimeout(this.timer);
  };

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  /** 75 -> "1:15", 3725 -> "1:02:05". */
  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds || 0));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  /** 5400 -> "1h 30m", 90 -> "1m 30s". */
  function shortDuration(seconds) {
    seconds = Math.round(seconds || 0);
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
    if (h) return h + "h " + pad(m) + "m";
    if (m) return m + "m " + pad(seconds % 60) + "s";
    return seconds + "s";
  }

  /** Build an element: el("td", {class: "num", text: "3"}, [children]). Never uses innerHTML. */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  var SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key]; else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function swatch(colour) {
    var dot = el("span", { class: "swatch", "aria-hidden": "true" });
    dot.style.background = colour || "#9aa5b1";
    return dot;
  }

  function today() {
    var d = new Date();
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }

  window.PC = { api: api, ApiError: ApiError, LiveStream: LiveStream, duration: duration,
                shortDuration: shortDuration, el: el, svg: svg, swatch: swatch, today: today, csrfToken: csrfToken };
})();
