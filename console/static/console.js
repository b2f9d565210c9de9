// Consola de especialistas: polling, emergency alerts, transcript refresh, canned answers.
(function () {
  "use strict";
  var body = document.body;
  var pollMs = Math.max(2, parseInt(body.dataset.poll || "4", 10)) * 1000;
  var page = body.dataset.page;
  var baseTitle = document.title;
  var seenAlerts = null; // ids already announced (null until the first poll)
  var blinkTimer = null;

  function byId(id) { return document.getElementById(id); }

  // Replace a container's HTML only when it changed, keeping keyboard focus.
  function swap(id, html) {
    var el = byId(id);
    if (!el || html === undefined || el.dataset.html === html) return;
    var active = document.activeElement;
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

  // --------------------------------------------------------------- alerts
  function showAlerts(alerts) {
    var banner = byId("emergency-banner");
    if (!banner) return;
    var ids = alerts.map(function (a) { return a.id; });
    if (!ids.length) {
      banner.hidden = true;
      document.title = baseTitle;
      stopBlink();
      seenAlerts = [];
      return;
    }
    var waiting = alerts.filter(function (a) { return a.status === "waiting"; }).length;
    var mine = ids.length - waiting;
    var parts = [];
    if (waiting) parts.push(waiting === 1 ? "1 caso de emergencia esperando en la cola." : waiting + " casos de emergencia esperando en la cola.");
    if (mine) parts.push(mine === 1 ? "Una de tus conversaciones marcó emergencia." : mine + " de tus conversaciones marcaron emergencia.");
    byId("emergency-text").textContent = parts.join(" ");
    var link = byId("emergency-link");
    var first = alerts[0];
    link.href = first.status === "waiting" ? "/#ticket-" + first.id : "/tickets/" + first.id;
    link.textContent = first.status === "waiting" ? "Ver cola" : "Abrir caso " + first.id;
    banner.hidden = false;
    document.title = "(" + ids.length + ") EMERGENCIA · " + baseTitle;
    var fresh = ids.filter(function (id) { return !seenAlerts || seenAlerts.indexOf(id) < 0; });
    if (fresh.length) {
      banner.classList.remove("flash-on"); void banner.offsetWidth; banner.classList.add("flash-on");
      startBlink(ids.length);
      beep();
    }
    seenAlerts = ids;
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
      var online = byId("online-count"); if (online) online.textContent = s.online_agents;
      var count = byId("waiting-count"); if (count) count.textContent = s.waiting.length;
      if (page === "queue" && s.html) {
        swap("waiting-list", s.html.waiting);
        swap("my-list", s.html.mine);
        swap("assigned-list", s.html.assigned);
      }
      showAlerts(s.alerts || []);
    }).catch(function () { /* retry on next tick */ }).then(function () {
      setTimeout(pollQueue, pollMs);
    });
  }

  function pollTicket(id) {
    getJSON("/api/tickets/" + id).then(function (res) {
      if (res.status !== 200) {
        var form = byId("reply-form"); if (form) form.hidden = true;
        return;
      }
      var box = byId("transcript");
      var list = box && box.querySelector(".transcript");
      var atBottom = !list || list.scrollTop + list.clientHeight >= list.scrollHeight - 30;
      swap("transcript", res.data.html);
      list = box && box.querySelector(".transcript");
      if (list && atBottom) list.scrollTop = list.scrollHeight;
      var warn = byId("window-warning");
      if (warn) warn.hidden = res.data.window_open !== false;
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

  var list = document.querySelector("#transcript .transcript");
  if (list) list.scrollTop = list.scrollHeight;

  pollQueue();
  if (page === "conversation" && body.dataset.ticket) pollTicket(body.dataset.ticket);
})();
