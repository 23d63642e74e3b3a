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
  const fraction = job.status === "succeeded" ? 1 : (p.fraction || 0);
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

function histogram(h) {
  const ns = "http://www.w3.org/2000/svg";
  const width = 480, height = 140, pad = 18;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height + pad}`);
  svg.setAttribute("class", "histogram");
  const top = Math.max(1, ...h.counts);
  const w = width / h.counts.length;
  h.counts.forEach((n, i) => {
    const r = document.createElementNS(ns, "rect");
    const barHeight = (height * n) / top;
    r.setAttribute("x", (i * w + 1).toFixed(1));
    r.setAttribute("y", (height - barHeight).toFixed(1));
    r.setAttribute("width", Math.max(1, w - 2).toFixed(1));
    r.setAttribute("height", barHeight.toFixed(1));
    const title = document.createElementNS(ns, "title");
    title.textContent = `[${h.edges[i].toPrecision(4)}, ${h.edges[i + 1].toPrecision(4)}): ${n}`;
    r.appendChild(title);
    svg.appendChild(r);
  });
  [[0, "start"], [h.edges.length - 1, "end"]].forEach(([i, anchor]) => {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", anchor === "start" ? 0 : width);
    t.setAttribute("y", height + pad - 4);
    t.setAttribute("text-anchor", anchor);
    t.textContent = Number(h.edges[i]).toPrecision(3);
    svg.appendChild(t);
  });
  const figure = make("figure", { class: "histogram-figure" });
  figure.appendChild(svg);
  figure.appendChild(make("figcaption", {}, `Distribution of ${h.column}`));
  return figure;
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
  const bt = summary.backtest || {};
  el("backtest").textContent = bt.metric
    ? `${bt.metric} = ${bt.value === null ? "n/a" : bt.value.toFixed(4)} over ${bt.entities.toLocaleString()} entities (what happened up to ${bt.window_end})`
    : "None: " + (bt.skipped || "no labels");
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
render();
if (!job.finished) setTimeout(poll, POLL_MS);
