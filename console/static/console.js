// Consola de especialistas: polling, emergency and SLA alerts, transcript refresh, canned answers.
(function () {
  "use strict";
  var body = document.body;
  var pollMs = Math.max(1, parseInt(body.dataset.poll || "4", 10)) * 1000;
  var page = body.dataset.page;
  var casework = body.dataset.casework === "1";
  var supervisor = body.dataset.supervisor === "1";
  var baseTitle = document.title;
  var blinkTimer = null;

  function byId(id) { return document.getElementById(id); }

  // Replace a container's HTML only when it changed, keeping keyboard focus.
  function swap(id, html) {
    var el = byId(id);
    if (!el || html === undefined || el.dataset.html === html) return;
    var active = document.activeElement;
    if (active && el.contains(active) && (active.tagName === "SELECT" || active.tagName === "TEXTAREA")) return;
    var focusedId = active && active.id && el.contains(active) ? active.id : null;
    el.innerHTML = html;
    el.dataset.html = html;
    if (focusedId && byId(focusedId)) byId(focusedId).focus();
  }

  // ---------------------------------------------------------------- sound
  var soundBox = byId("sound-toggle");
  if (soundBox) {
    soundBox.checked = localStorage.getItem("consoleSound") === "1";
    soundBox.addEventListener("change", function () {
      localStorage.setItem("consoleSound", soundBox.checked ? "1" : "0");
      if (soundBox.checked) beep();
    });
  }
  function beep() {
    if (!soundBox || !soundBox.checked) return;
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      var ctx = new Ctx();
      [0, 0.35, 0.7].forEach(function (t) {
        var osc = ctx.createOscillator(); var gain = ctx.createGain();
        osc.frequency.value = 880; osc.connect(gain); gain.connect(ctx.destination);
        gain.gain.setValueAtTime(0.2, ctx.currentTime + t);
        osc.start(ctx.currentTime + t); osc.stop(ctx.currentTime + t + 0.2);
      });
    } catch (e) { /* sound is optional */ }
  }

  // An alert bar that can be dismissed until something new appears.
  function AlertBar(id, textId, linkId, dismissId) {
    this.el = byId(id); this.text = byId(textId); this.link = byId(linkId);
    this.shown = {}; this.dismissed = {};
    var self = this;
    var button = byId(dismissId);
    if (button) button.addEventListener("click", function () {
      Object.keys(self.shown).forEach(function (k) { self.dismissed[k] = true; });
      self.el.hidden = true;
      countBars();
    });
  }
  AlertBar.prototype.update = function (items, text, href, linkText) {
    if (!this.el) return false;
    var self = this, current = {};
    items.forEach(function (it) { current[it.id] = true; });
    Object.keys(this.dismissed).forEach(function (k) { if (!current[k]) delete self.dismissed[k]; });
    var fresh = items.filter(function (it) { return !self.shown[it.id]; });
    this.shown = current;
    var visible = items.filter(function (it) { return !self.dismissed[it.id]; });
    if (!visible.length) { this.el.hidden = true; countBars(); return false; }
    this.text.textContent = text;
    if (href) this.link.href = href;
    if (linkText) this.link.textContent = linkText;
    if (this.el.hidden || fresh.length) {
      this.el.dataset.shownAt = String(Date.now());
    }
    this.el.hidden = false;
    countBars();
    if (fresh.length) {
      this.el.classList.remove("flash-on"); void this.el.offsetWidth; this.el.classList.add("flash-on");
      beep();
    }
    return fresh.length > 0;
  };

  // How many alert bars show (a phone's top bar makes room for them).
  function countBars() {
    var n = ["emergency-banner", "sla-banner"].filter(function (id) {
      var el = byId(id); return el && !el.hidden;
    }).length;
    body.classList.toggle("alert-1", n === 1);
    body.classList.toggle("alert-2", n === 2);
  }

  // ----------------------------------------------------------- emergencies
  var emergencyBar = new AlertBar("emergency-banner", "emergency-text", "emergency-link", "emergency-dismiss");
  function showAlerts(alerts) {
    if (!alerts.length) { emergencyBar.update([], ""); document.title = baseTitle; stopBlink(); return; }
    var waiting = alerts.filter(function (a) { return a.status === "waiting"; }).length;
    var mine = alerts.length - waiting;
    var parts = [];
    if (waiting) parts.push(waiting === 1 ? "1 esperando en la cola." : waiting + " esperando en la cola.");
    if (mine) parts.push(mine === 1 ? "Una de tus conversaciones marcó emergencia." : mine + " de tus conversaciones marcaron emergencia.");
    var first = alerts[0];
    var fresh = emergencyBar.update(alerts, parts.join(" "),
      first.status === "waiting" ? "/#ticket-" + first.id : "/tickets/" + first.id,
      first.status === "waiting" ? "Ver cola" : "Abrir caso " + first.label);
    document.title = "(" + alerts.length + ") EMERGENCIA · " + baseTitle;
    if (fresh) startBlink(alerts.length);
  }
  function startBlink(n) {
    stopBlink();
    var on = false, count = 0;
    blinkTimer = setInterval(function () {
      on = !on; count += 1;
      document.title = on ? "🔴 EMERGENCIA (" + n + ")" : "(" + n + ") EMERGENCIA · " + baseTitle;
      if (count > 20) stopBlink();
    }, 700);
  }
  function stopBlink() { if (blinkTimer) { clearInterval(blinkTimer); blinkTimer = null; } }

  // ------------------------------------------- SLA breaches (supervisors)
  // The server sends each waiting case's breach time; a timer alerts at that moment,
  // not at the next poll. Clocks: the server's "now" corrects the browser's.
  var slaBar = new AlertBar("sla-banner", "sla-text", "sla-link", "sla-dismiss");
  var slaWatch = [], clockOffset = 0;
  function checkSla() {
    if (!supervisor) return;
    var now = Date.now() + clockOffset;
    var late = slaWatch.filter(function (w) { return w.breach_at !== null && now > w.breach_at; });
    if (!late.length) { slaBar.update([], ""); return; }
    var first = late[0];
    var minutes = Math.floor((now - first.breach_at) / 60000);
    var text = late.length === 1
      ? "Caso " + first.label + " (" + first.priority_label + ") esperando más de su plazo" + (minutes ? " por " + minutes + " min." : ".")
      : late.length + " casos esperando más de su plazo. El primero: " + first.label + " (" + first.priority_label + ").";
    if (slaBar.update(late, text, "/supervision", "Supervisión") && slaBar.el) {
      slaBar.el.dataset.breachAt = String(first.breach_at);
    }
    late.forEach(function (w) {
      var row = byId("sup-ticket-" + w.id); if (row) row.classList.add("late");
    });
  }
  if (supervisor) setInterval(checkSla, 250);

  // ------------------------------------------------------------ polling
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location.href = "/login"; throw new Error("auth"); }
        return r.json().then(function (data) { return { status: r.status, data: data }; });
      });
  }

  function pollQueue() {
    getJSON("/api/queue").then(function (res) {
      var s = res.data;
      if (res.status !== 200) return;
      var online = byId("online-count"); if (online) online.textContent = s.online_agents;
      var count = byId("waiting-count"); if (count) count.textContent = s.waiting.length;
      if (page === "queue" && s.html) {
        swap("waiting-list", s.html.waiting);
        swap("my-list", s.html.mine);
        swap("assigned-list", s.html.assigned);
        swap("closed-list", s.html.closed);
      }
      showAlerts(s.alerts || []);
      if (s.sla) { clockOffset = s.sla.now - Date.now(); slaWatch = s.sla.watch; checkSla(); }
    }).catch(function () { /* retry on next tick */ }).then(function () {
      setTimeout(pollQueue, pollMs);
    });
  }

  function pollSupervision() {
    getJSON("/api/supervision").then(function (res) {
      if (res.status !== 200 || !res.data.html) return;
      swap("sup-summary", res.data.html.summary);
      swap("sup-cases", res.data.html.cases);
      swap("sup-staff", res.data.html.staff);
      checkSla();
    }).catch(function () {}).then(function () { setTimeout(pollSupervision, pollMs); });
  }

  function pollTicket(id) {
    getJSON("/api/tickets/" + id).then(function (res) {
      if (res.status !== 200) {
        var form = byId("reply-form"); if (form) form.hidden = true;
        return;
      }
      var box = byId("transcript");
      var atBottom = !box || box.scrollTop + box.clientHeight >= box.scrollHeight - 30;
      swap("transcript", res.data.html);
      if (box && atBottom) box.scrollTop = box.scrollHeight;
      if (res.data.contact_html) swap("contact-state", res.data.contact_html);
    }).catch(function () {}).then(function () { setTimeout(function () { pollTicket(id); }, pollMs); });
  }

  // ------------------------------------------------------------ canned
  var insert = byId("canned-insert");
  if (insert) {
    insert.addEventListener("click", function () {
      var select = byId("canned-select");
      var option = select.options[select.selectedIndex];
      if (!option || !option.value) return;
      var area = byId("reply-text");
      area.value = area.value ? area.value + "\n" + option.dataset.text : option.dataset.text;
      select.value = "";
      area.focus();
    });
  }

  var transcript = byId("transcript");
  if (transcript) transcript.scrollTop = transcript.scrollHeight;

  if (casework) pollQueue();
  if (page === "supervision") pollSupervision();
  if (page === "conversation" && body.dataset.ticket) pollTicket(body.dataset.ticket);
})();
