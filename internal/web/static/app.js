// pier's portal script. Every page works without it; this only improves
// them: run pages follow the run live (server-sent events), entity
// pickers search the catalog as you type, and action forms hide the
// inputs whose `visible` condition is false. No framework, no build.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-live]").forEach(live);
  document.querySelectorAll("input[data-picker]").forEach(picker);
  document.querySelectorAll("form[data-visible]").forEach(visibility);
});

// live follows a run: new log lines are appended, status changes and new
// timeline events shown, without a reload.
function live(section) {
  if (!window.EventSource) return;
  var es = new EventSource(section.getAttribute("data-live"));
  var logs = document.getElementById("logs");
  var status = document.getElementById("run-status");
  var timeline = document.getElementById("timeline");
  var empty = document.getElementById("logs-empty");
  es.addEventListener("log", function (ev) {
    var d = JSON.parse(ev.data);
    if (empty) { empty.remove(); empty = null; }
    logs.append(document.createTextNode(d.at + "  " + d.message + "\n"));
    logs.scrollTop = logs.scrollHeight;
  });
  es.addEventListener("status", function (ev) {
    var d = JSON.parse(ev.data);
    if (status) {
      status.textContent = d.status + (d.label ? " · " + d.label : "");
      status.className = "badge " + statusClass(d.status);
      status.setAttribute("data-status", d.status);
    }
    (d.events || []).forEach(function (e) {
      var li = document.createElement("li");
      li.textContent = e.at + " · " + e.actor + (e.to ? " → " + e.to : "") + (e.note ? ": " + e.note : "");
      timeline.append(li);
    });
    if (d.status !== "WAITING_FOR_APPROVAL") {
      var vote = document.getElementById("vote");
      if (vote) vote.hidden = true;
    }
    if (d.terminal) es.close();
  });
}

function statusClass(s) {
  switch (s) {
    case "SUCCESS": case "APPROVED": case "DISPATCHED": return "c-green";
    case "FAILURE": case "DECLINED": case "EXPIRED": return "c-red";
    case "WAITING_FOR_APPROVAL": return "c-yellow";
    case "IN_PROGRESS": return "c-blue";
  }
  return "c-gray";
}

// picker refreshes an entity input's suggestions from the catalog as the
// person types (the page rendered the first ones already).
function picker(input) {
  var list = document.getElementById(input.getAttribute("list"));
  var timer = null;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var u = "/pick?blueprint=" + encodeURIComponent(input.getAttribute("data-picker")) + "&q=" + encodeURIComponent(input.value);
      fetch(u, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (items) {
        list.replaceChildren();
        items.forEach(function (it) {
          var o = document.createElement("option");
          o.value = it.identifier;
          o.textContent = it.title;
          list.append(o);
        });
      }).catch(function () {});
    }, 150);
  });
}

// visibility asks pier which inputs the form's current values show
// (the conditions are jq, evaluated by the server as at submit) and
// hides the others.
function visibility(form) {
  var url = form.getAttribute("data-visible");
  function update() {
    var params = new URLSearchParams(new FormData(form));
    params.delete("csrf");
    fetch(url + "?" + params.toString(), { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
      form.querySelectorAll("[data-input]").forEach(function (f) {
        var hidden = (d.hidden || []).indexOf(f.getAttribute("data-input")) >= 0;
        f.hidden = hidden;
        f.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = hidden || el.hasAttribute("data-disabled"); });
      });
    }).catch(function () {});
  }
  form.addEventListener("change", update);
  update();
}
