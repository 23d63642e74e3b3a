// The job page: status, stage, progress (entities, ETA, per worker), warnings and errors, kept
// current by polling the API until the job ends; then its outputs, sample downloads, the score
// histogram and the backtest.
"use strict";

const POLL_MS = 400;
let job = JSON.parse(document.getElementById("job-data").textContent);
// Every distinct "entities done" value this page showed (lets a test see the bar move).
window.relpredictProgress = [];

function el(id) { return document.getElementById(id); }

function make(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function seconds(s) {
  if (s === null || s === undefined) return "";
  if (s < 60) return s.toFixed(1) + " s";
  const m = Math.floor(s / 60);
  return m + " min " + Math.round(s - 60 * m) + " s";
}

function bar(fraction, label, id) {
  const wrap = make("div", { class: "worker" });
  wrap.appendChild(make("span", { class: "worker-label" }, label));
  const outer = make("div", { class: "progress small", id });
  const fill = make("div", { class: "progress-fill" });
  fill.style.width = (100 * (fraction || 0)).toFixed(1) + "%";
  outer.appendChild(fill);
  wrap.appendChild(outer);
  return wrap;
}

function renderProgress(p) {
  const total = p.entities_total;
  const fraction = job.status.startsWith("succeeded") ? 1 : (p.fraction || 0);
  el("progress-fill").classList.toggle("done", Boolean(job.finished));  // no transition: a finished bar is full at once
  el("progress-fill").style.width = (100 * fraction).toFixed(1) + "%";
  el("progress").setAttribute("aria-valuenow", Math.round(100 * fraction));
  el("progress").dataset.done = p.entities_done;
  el("progress").dataset.total = total === null ? "" : total;
  el("progress-text").textContent = total === null
    ? "Entities: counting…"
    : `${p.entities_done.toLocaleString()} / ${total.toLocaleString()} entities (${p.shards_done} of ${p.shards_total} shards)`;
  el("eta").textContent = p.eta_seconds !== null && job.status === "running" ? "ETA " + seconds(p.eta_seconds) : "";
  el("elapsed").textContent = seconds(p.elapsed_seconds);
  const workers = el("workers");
  workers.replaceChildren(...p.workers.map((w) => {
    const label = `worker ${w.worker}: ${w.entities_done.toLocaleString()} / ${w.entities_total.toLocaleString()}` +
      (w.error ? " — " + w.error : "");
    return bar(w.entities_total ? w.entities_done / w.entities_total : 0, label, "worker-" + w.worker);
  }));
  const seen = window.relpredictProgress;
  if (seen[seen.length - 1] !== p.entities_done) seen.push(p.entities_done);
}

function renderMessages() {
  const warnings = el("warnings");
  warnings.replaceChildren(...job.warnings.map((w) => make("li", {}, w)));
  warnings.hidden = job.warnings.length === 0;
  const error = el("error");
  error.textContent = job.error || "";
  error.hidden = !job.error;
  if (job.can_resume && !job.error && job.status !== "failed" && job.status !== "cancelled") {
    error.textContent = "The job's runner process is gone; resume the job to finish it.";
    error.hidden = false;
  }
}

function renderStatus() {
  const status = el("status");
  status.textContent = job.status;
  status.className = "status status-" + job.status;
  el("stage").textContent = job.stage;
  el("cancel-job").hidden = !job.can_cancel;
  el("resume-job").hidden = !job.can_resume;
}

const SVG = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// A bar chart with a count axis on the left and the bin edges below; `marks` draws vertical lines
// (the threshold) at values on the x scale. `series` is a list of {values, cls, label}.
function barChart(series, edges, opts) {
  const width = 480, height = 140, left = 46, bottom = 30, top = 8;
  const svg = svgEl("svg", { viewBox: `0 0 ${width + left} ${height + bottom + top}`, class: "histogram " + (opts.cls || "") });
  const n = series[0].values.length;
  const peak = Math.max(1e-12, ...series.flatMap((s) => s.values));
  const y = (v) => top + height - (height * v) / peak;
  const w = width / n;
  [0, peak / 2, peak].forEach((v) => {
    svg.appendChild(svgEl("line", { x1: left, x2: left + width, y1: y(v), y2: y(v), class: "grid" }));
    svg.appendChild(svgEl("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end", class: "tick" }, opts.format(v)));
  });
  series.forEach((s, k) => {
    const bw = Math.max(1, (w - 2) / series.length);
    s.values.forEach((v, i) => {
      const r = svgEl("rect", { x: (left + i * w + 1 + k * bw).toFixed(1), y: y(v).toFixed(1),
        width: bw.toFixed(1), height: (top + height - y(v)).toFixed(1), class: s.cls });
      r.appendChild(svgEl("title", {}, `${opts.binLabel(i)}: ${s.label} ${opts.format(v)}`));
      svg.appendChild(r);
    });
  });
  svg.appendChild(svgEl("line", { x1: left, x2: left, y1: top, y2: top + height, class: "axis" }));
  svg.appendChild(svgEl("line", { x1: left, x2: left + width, y1: top + height, y2: top + height, class: "axis" }));
  if (edges) {
    const lo = edges[0], hi = edges[edges.length - 1];
    const x = (v) => left + (width * (v - lo)) / (hi - lo || 1);
    [0, 0.25, 0.5, 0.75, 1].forEach((f) => {
      const v = lo + f * (hi - lo);
      svg.appendChild(svgEl("text", { x: x(v), y: top + height + 14, "text-anchor": "middle", class: "tick" }, Number(v.toPrecision(3)).toString()));
    });
    (opts.marks || []).forEach((m) => {
      if (m.value < lo || m.value > hi) return;
      svg.appendChild(svgEl("line", { x1: x(m.value), x2: x(m.value), y1: top, y2: top + height, class: "mark", id: m.id }));
      svg.appendChild(svgEl("text", { x: x(m.value) + 3, y: top + 10, class: "mark-label" }, m.label));
    });
  }
  svg.appendChild(svgEl("text", { x: left + width / 2, y: top + height + 28, "text-anchor": "middle", class: "axis-label" }, opts.xLabel));
  svg.appendChild(svgEl("text", { x: 10, y: top + height / 2, transform: `rotate(-90 10 ${top + height / 2})`, "text-anchor": "middle", class: "axis-label" }, opts.yLabel));
  return svg;
}

function histogram(h) {
  const threshold = job.settings.threshold;
  const marks = h.column === "True_PROB" && threshold !== null && threshold !== undefined
    ? [{ value: threshold, label: "threshold " + threshold, id: "threshold-" + h.column }] : [];
  const svg = barChart([{ values: h.counts, cls: "bar", label: "entities" }], h.edges, {
    format: (v) => Math.round(v).toLocaleString(), xLabel: h.column, yLabel: "entities", marks,
    binLabel: (i) => `[${h.edges[i].toPrecision(4)}, ${h.edges[i + 1].toPrecision(4)})`,
  });
  const figure = make("figure", { class: "histogram-figure" });
  figure.appendChild(svg);
  figure.appendChild(make("figcaption", {}, `Distribution of ${h.column} (entities per bin)` + (marks.length ? `; the line is the threshold ${threshold}` : "")));
  return figure;
}

function driftChart(score) {
  const svg = barChart([
    { values: score.expected, cls: "bar reference", label: "validation" },
    { values: score.actual || score.expected.map(() => 0), cls: "bar", label: "this job" },
  ], null, { format: (v) => (100 * v).toFixed(0) + " %", xLabel: score.label + ": bins (validation quantiles)",
    yLabel: "share", binLabel: (i) => score.bins[i], cls: "drift-chart" });
  const figure = make("figure", { class: "histogram-figure", id: "score-drift-chart" });
  figure.appendChild(svg);
  figure.appendChild(make("figcaption", {}, "This job's score distribution (dark) over the validation split's (light), in the validation's bins"));
  return figure;
}

function renderDrift(d) {
  const box = el("drift");
  box.replaceChildren();
  if (!d) return;
  const ents = d.entities || {};
  if (ents.previous) {
    box.appendChild(make("p", { id: "entity-change" }, `${ents.count.toLocaleString()} entities vs ${ents.previous.toLocaleString()} in the previous job ${ents.previous_job} (${(100 * ents.change).toFixed(1)} %)`));
  }
  if (!d.available) {
    box.appendChild(make("p", { id: "drift-unavailable" }, "Drift: not available (" + d.reason + ")"));
    return;
  }
  if (d.unseen) box.appendChild(make("p", { id: "unseen" }, `Entities not seen in training: ${d.unseen.count.toLocaleString()} (${(100 * d.unseen.share).toFixed(1)} %)`));
  const table = make("table", { id: "drift-table", class: "drift" });
  const head = make("tr");
  ["Input", "PSI", "Flag"].forEach((t) => head.appendChild(make("th", {}, t)));
  table.appendChild(head);
  [d.score, ...d.features].forEach((item) => {
    const row = make("tr", { class: "flag-" + item.flag.replace("/", "") });
    row.appendChild(make("td", {}, item.label));
    row.appendChild(make("td", { class: "num" }, item.psi === null ? "n/a" : item.psi.toFixed(3)));
    row.appendChild(make("td", {}, { major: "major (> 0.25)", moderate: "moderate (> 0.1)", ok: "ok", "n/a": "n/a" }[item.flag]));
    table.appendChild(row);
  });
  box.appendChild(make("p", { class: "muted" }, "Population stability index against the " + d.reference + "; above 0.1 is a moderate shift, above 0.25 a major one."));
  box.appendChild(driftChart(d.score));
  box.appendChild(table);
}

async function explainEntity() {
  const entity = el("explain-entity").value.trim();
  const out = el("explanation");
  out.replaceChildren();
  if (!entity) return;
  const { status, body } = await api("GET", `/api/jobs/${encodeURIComponent(job.id)}/explanations?entity=${encodeURIComponent(entity)}`);
  if (status !== 200) {
    out.appendChild(make("p", { class: "field-error" }, body.detail));
    return;
  }
  const table = make("table", { id: "explanation-table", class: "drift" });
  const head = make("tr");
  ["Rank", "Input", "Value", "Contribution"].forEach((t) => head.appendChild(make("th", {}, t)));
  table.appendChild(head);
  const peak = Math.max(1e-12, ...body.rows.map((r) => Math.abs(r.contribution)));
  body.rows.forEach((r) => {
    const row = make("tr");
    row.appendChild(make("td", { class: "num" }, String(r.rank)));
    row.appendChild(make("td", {}, r.feature));
    row.appendChild(make("td", { class: "num" }, r.value === null ? "(missing)" : Number(r.value).toPrecision(4)));
    const cell = make("td", { class: "num contribution" });
    const barEl = make("span", { class: "contrib-bar " + (r.contribution >= 0 ? "up" : "down") });
    barEl.style.width = (60 * Math.abs(r.contribution) / peak).toFixed(0) + "px";
    cell.appendChild(barEl);
    cell.appendChild(document.createTextNode(" " + (r.contribution >= 0 ? "+" : "") + r.contribution.toPrecision(3)));
    row.appendChild(cell);
    table.appendChild(row);
  });
  out.appendChild(table);
}

function renderOutput(name, out) {
  const card = make("div", { class: "card output", id: "output-" + name });
  card.appendChild(make("h3", {}, name));
  card.appendChild(make("p", { class: "rows", id: "rows-" + name },
    `${out.rows.toLocaleString()} rows, ${out.bytes.toLocaleString()} bytes in ${out.files.length} file(s) (${out.file_type})`));
  const files = make("ul", { class: "files" });
  out.files.forEach((f) => files.appendChild(make("li", {}, f.path)));
  card.appendChild(files);
  const sample = out.sample;
  const kept = sample.complete ? "all of it" : `the first ${sample.rows.toLocaleString()} rows`;
  const links = make("p", { class: "downloads" }, `Sample (${kept}): `);
  ["csv", "parquet"].forEach((fmt) => {
    const href = `/api/jobs/${encodeURIComponent(job.id)}/sample?output=${name}&format=${fmt}`;
    links.appendChild(make("a", { href, id: `download-${name}-${fmt}`, download: "" }, "download " + fmt.toUpperCase()));
    links.appendChild(document.createTextNode(" "));
  });
  card.appendChild(links);
  if (out.histogram) card.appendChild(histogram(out.histogram));
  return card;
}

function renderResults() {
  const summary = job.summary;
  el("results").hidden = !summary;
  if (!summary) return;
  el("outputs").replaceChildren(...Object.entries(summary.outputs).map(([n, o]) => renderOutput(n, o)));
  el("errors-note").hidden = !summary.errors;
  el("errors-note").textContent = summary.errors
    ? `${summary.errors.toLocaleString()} entities failed to score: each is a row (ENTITY, ERROR) of the errors output.` : "";
  const bt = summary.backtest || {};
  el("backtest").textContent = bt.metric
    ? `${bt.metric} = ${bt.value === null ? "n/a" : bt.value.toFixed(4)} over ${bt.entities.toLocaleString()} entities (what happened up to ${bt.window_end})`
    : "None: " + (bt.skipped || "no labels");
  renderDrift(summary.drift);
  el("explain-box").hidden = !summary.outputs.explanations;
}

function render() {
  renderStatus();
  renderProgress(job.progress);
  renderMessages();
  renderResults();
}

async function poll() {
  const { status, body } = await api("GET", "/api/jobs/" + encodeURIComponent(job.id));
  if (status === 200) {
    job = body;
    render();
  }
  if (!job.finished && !(job.can_resume && !job.runner_alive)) setTimeout(poll, POLL_MS);
}

async function act(action) {
  el("action-error").textContent = "";
  const { status, body } = await api("POST", `/api/jobs/${encodeURIComponent(job.id)}/${action}`);
  if (status !== 200) {
    el("action-error").textContent = body.detail;
    return;
  }
  const wasPolling = !job.finished;
  job = body;
  render();
  if (!wasPolling) poll();
}

el("cancel-job").addEventListener("click", () => act("cancel"));
el("resume-job").addEventListener("click", () => act("resume"));
el("explain-form").addEventListener("submit", (event) => { event.preventDefault(); explainEntity(); });
render();
if (!job.finished) setTimeout(poll, POLL_MS);
