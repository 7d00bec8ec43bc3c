// kvmesh console: draws the page's chart with the vendored uPlot and runs the playground stream.
"use strict";

(function () {
  function usd(v) { return v == null ? "" : "$" + v.toFixed(4); }
  function tokens(v) { return v == null ? "" : Math.round(v).toLocaleString("en-US"); }

  // Daily buckets: half a day of room on each side so the first and last bars are whole, dates as MM-DD (UTC).
  var X_SCALE = { time: true, range: function (u, min, max) { return [min - 43200, max + 43200]; } };
  var X_AXIS = { space: 48, incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400], values: function (u, vals) { return vals.map(function (v) { return new Date(v * 1e3).toISOString().slice(5, 10); }); } };
  var NO_POINTS = { show: false };

  function drawChart() {
    var el = document.getElementById("chart");
    var dataEl = document.getElementById("chart-data");
    if (!el || !dataEl || typeof uPlot === "undefined") return;
    var data = JSON.parse(dataEl.textContent);
    var s = data.series;
    var width = Math.max(320, el.clientWidth || 800);
    var opts, rows;
    var bars = uPlot.paths.bars({ size: [0.8, 40] });
    if (data.kind === "usage") {
      // Stacked daily bars: uncached prompt, cached prompt, completion; the cache hit rate on its own axis.
      var stack1 = s.uncached.map(function (v, i) { return v + s.cached[i]; });
      var stack2 = stack1.map(function (v, i) { return v + s.completion[i]; });
      rows = [s.t, stack2, stack1, s.uncached, s.hit];
      opts = {
        width: width, height: 320, tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
        series: [
          {},
          { label: "completion", fill: "#f2b84b", stroke: "#c98c12", paths: bars, points: NO_POINTS, value: function (u, v, si, i) { return tokens(i == null ? null : s.completion[i]); } },
          { label: "cached prompt", fill: "#4fb286", stroke: "#2d7d5a", paths: bars, points: NO_POINTS, value: function (u, v, si, i) { return tokens(i == null ? null : s.cached[i]); } },
          { label: "uncached prompt", fill: "#6c8ee6", stroke: "#2256d6", paths: bars, points: NO_POINTS, value: function (u, v, si, i) { return tokens(v); } },
          { label: "cache hit rate %", stroke: "#b0305a", width: 2, scale: "%", spanGaps: true, points: { show: true } }
        ],
        axes: [X_AXIS, { label: "tokens", values: function (u, vals) { return vals.map(tokens); }, size: 80 },
               { side: 1, scale: "%", label: "cache hit %", grid: { show: false } }],
        scales: { x: X_SCALE, "%": { range: [0, 100] } }
      };
    } else {
      rows = [s.t, s.spent, s.saved];
      var half = uPlot.paths.bars({ size: [0.4, 30], align: -1 });
      var halfR = uPlot.paths.bars({ size: [0.4, 30], align: 1 });
      opts = {
        width: width, height: 320, tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
        series: [
          {},
          { label: "spent", fill: "#6c8ee6", stroke: "#2256d6", paths: half, points: NO_POINTS, value: function (u, v) { return usd(v); } },
          { label: "saved", fill: "#4fb286", stroke: "#2d7d5a", paths: halfR, points: NO_POINTS, value: function (u, v) { return usd(v); } }
        ],
        axes: [X_AXIS, { label: "USD", labelGap: 8, values: function (u, vals) { return vals.map(function (v) { return "$" + v; }); }, size: 110 }],
        scales: { x: X_SCALE }
      };
    }
    el.textContent = "";
    var plot = new uPlot(opts, rows, el);
    el.setAttribute("data-drawn", String(rows[0].length));
    window.addEventListener("resize", function () { plot.setSize({ width: Math.max(320, el.clientWidth), height: 320 }); });
  }

  function appendTurn(role, text) {
    var box = document.createElement("div");
    box.className = "turn " + role;
    var body = document.createElement("div");
    body.className = "text";
    body.textContent = text;
    box.appendChild(body);
    document.getElementById("conversation").appendChild(box);
    return box;
  }

  function stats(box, parts) {
    var p = document.createElement("p");
    p.className = "stats muted";
    p.textContent = parts.join(" · ");
    box.appendChild(p);
  }

  async function send(form, event) {
    event.preventDefault();
    var button = document.getElementById("send");
    var prompt = document.getElementById("prompt").value;
    var maxTokens = parseInt(document.getElementById("max-tokens").value, 10) || 64;
    appendTurn("user", prompt);
    var reply = appendTurn("assistant", "");
    reply.setAttribute("data-state", "streaming");
    var text = reply.querySelector(".text");
    button.disabled = true;
    var started = performance.now();
    var ttft = null, usage = null, chunks = 0;
    try {
      var response = await fetch("/console/playground/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": form.getAttribute("data-csrf") },
        body: JSON.stringify({ target: document.getElementById("target").value, prompt: prompt, max_tokens: maxTokens }),
        credentials: "same-origin"
      });
      if (!response.ok) {
        var err = await response.json().catch(function () { return {}; });
        throw new Error((err.error && err.error.message) || ("HTTP " + response.status));
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      for (;;) {
        var step = await reader.read();
        if (step.done) break;
        buffer += decoder.decode(step.value, { stream: true });
        var lines = buffer.split("\n");
        buffer = lines.pop();
        for (var i = 0; i < lines.length; i++) {
          var line = lines[i].trim();
          if (line.indexOf("data:") !== 0) continue;
          var data = line.slice(5).trim();
          if (data === "[DONE]") continue;
          var event;
          try { event = JSON.parse(data); } catch (e) { continue; }
          if (event.error) throw new Error(event.error.message || "stream error");
          if (event.usage) usage = event.usage;
          var choice = event.choices && event.choices[0];
          var delta = choice && choice.delta && choice.delta.content;
          if (delta) {
            if (ttft === null) ttft = performance.now() - started;
            chunks += 1;
            text.textContent += delta;
          }
        }
      }
      var total = performance.now() - started;
      var parts = ["TTFT " + (ttft === null ? "—" : Math.round(ttft) + " ms"), "total " + Math.round(total) + " ms"];
      if (usage) {
        var cached = (usage.prompt_tokens_details && usage.prompt_tokens_details.cached_tokens) || 0;
        parts.push("prompt " + usage.prompt_tokens + " tokens", "cached " + cached, "completion " + usage.completion_tokens);
        reply.setAttribute("data-completion-tokens", String(usage.completion_tokens));
        reply.setAttribute("data-cached-tokens", String(cached));
      } else {
        parts.push(chunks + " chunks");
      }
      stats(reply, parts);
      reply.setAttribute("data-ttft-ms", ttft === null ? "" : String(Math.round(ttft)));
      reply.setAttribute("data-state", "done");
    } catch (e) {
      reply.classList.add("failed");
      text.textContent = "Error: " + e.message;
      reply.setAttribute("data-state", "error");
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawChart();
    var form = document.getElementById("playground-form");
    if (form) form.addEventListener("submit", function (event) { send(form, event); });
  });
})();
