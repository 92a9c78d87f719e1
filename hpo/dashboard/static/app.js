// The hpo dashboard page: polls /api/summary and redraws the panels when the experiment
// changed (its revision went up). Figures are drawn with plotly.js, served by the dashboard.
"use strict";

const POLL_MS = 1000;
const PAGE = 50;
const state = {
  exp: null, revision: -1, sort: "tid", desc: false, status: "", offset: 0,
  labels: [], bestTid: null, allowWrite: false, detailTid: null,
};

function expParam() {
  return state.exp === null ? "" : "exp=" + encodeURIComponent(state.exp);
}

async function api(name, params) {
  const query = [expParam(), params || ""].filter(Boolean).join("&");
  const response = await fetch("/api/" + name + (query ? "?" + query : ""));
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function fmt(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1e4 || Math.abs(value) < 1e-3 ? value.toExponential(3)
                                                            : String(parseFloat(value.toPrecision(4)));
  }
  return String(value);
}

const LAYOUT = { margin: { l: 50, r: 10, t: 10, b: 40 }, showlegend: false };
const CONFIG = { displaylogo: false, responsive: true };

function draw(id, traces, layout) {
  Plotly.react(id, traces, Object.assign({}, LAYOUT, layout || {}), CONFIG);
}

// -- panels ---------------------------------------------------------------------------------

async function drawHistory() {
  const h = await api("history");
  draw("history", [
    { x: h.tids, y: h.losses, mode: "markers", type: h.tids.length > 2000 ? "scattergl" : "scatter",
      name: "loss", marker: { size: 5, color: "#2563eb" } },
    { x: h.tids, y: h.best, mode: "lines", line: { shape: "hv", color: "#dc2626" },
      name: "best so far" },
  ], { xaxis: { title: { text: "trial id" } }, yaxis: { title: { text: "loss" } }, showlegend: true,
       legend: { orientation: "h", y: 1.1 } });
  document.getElementById("history").dataset.points = String(h.tids.length);
}

function header(labels) {
  const columns = ["tid", "status", "loss", "duration", "owner", "error"].concat(labels);
  const row = columns.map((c) => {
    const arrow = state.sort === c ? (state.desc ? " \u25BC" : " \u25B2") : "";
    return `<th data-sort="${c}">${c}${arrow}</th>`;
  });
  if (state.allowWrite) row.push("<th></th>");
  return "<tr>" + row.join("") + "</tr>";
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
                                                    '"': "&quot;", "'": "&#39;" })[c]);
}

async function drawTable() {
  const params = `sort=${encodeURIComponent(state.sort)}&desc=${state.desc ? 1 : 0}` +
    `&offset=${state.offset}&limit=${PAGE}&status=${encodeURIComponent(state.status)}`;
  const page = await api("trials", params);
  state.labels = page.labels;
  const table = document.getElementById("trials");
  table.tHead.innerHTML = header(page.labels);
  const body = page.rows.map((r) => {
    const cells = [fmt(r.tid), `<span class="status-${r.status}">${r.status}</span>`, fmt(r.loss),
                   fmt(r.duration)].map((c) => `<td>${c}</td>`);
    cells.push(`<td class="text">${escapeHtml(fmt(r.owner))}</td>`);
    cells.push(`<td class="text" title="${escapeHtml(fmt(r.error))}">${escapeHtml(fmt(r.error))}</td>`);
    for (const label of page.labels) {
      const v = r.params[label];
      cells.push(`<td class="${typeof v === "string" ? "text" : ""}">${escapeHtml(fmt(v))}</td>`);
    }
    if (state.allowWrite) {
      cells.push(r.status === "new" ? `<td><button data-cancel="${r.tid}">cancel</button></td>` : "<td></td>");
    }
    const best = r.tid === state.bestTid ? ' class="best"' : "";
    return `<tr data-tid="${r.tid}" data-status="${r.status}"${best}>${cells.join("")}</tr>`;
  });
  table.tBodies[0].innerHTML = body.join("");
  const last = Math.min(page.offset + PAGE, page.total);
  document.getElementById("page-info").textContent =
    page.total ? `${page.offset + 1}\u2013${last} of ${page.total}` : "no trials";
  document.getElementById("trial-count").textContent = `(${page.total} shown by the filter)`;
  document.getElementById("prev-page").disabled = page.offset === 0;
  document.getElementById("next-page").disabled = last >= page.total;
}

async function drawImportances() {
  const imp = await api("importances");
  draw("importances", [{ type: "bar", orientation: "h", x: imp.importances.slice().reverse(),
                          y: imp.labels.slice().reverse(), marker: { color: "#059669" } }],
       { margin: { l: 110, r: 10, t: 10, b: 40 },
         xaxis: { title: { text: "share of loss variance" } },
         annotations: imp.importances.some((v) => v > 0) ? [] : [{
           text: "not enough ok trials with different losses yet", showarrow: false,
           xref: "paper", yref: "paper", x: 0.5, y: 0.5 }] });
}

async function drawIntermediate() {
  const data = await api("intermediate");
  draw("intermediate", data.trials.map((t) => ({
    x: t.steps, y: t.losses, mode: "lines+markers", name: `trial ${t.tid}`,
    line: { width: 1, dash: t.status === "pruned" ? "dot" : "solid" }, marker: { size: 3 },
  })), { xaxis: { title: { text: "step" } }, yaxis: { title: { text: "reported loss" } },
          annotations: data.trials.length ? [] : [{ text: "no trial reported intermediate losses " +
            "(hpo.report)", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }] });
}

// Parallel coordinates as ordinary SVG lines (plotly's parcoords needs WebGL): each axis is
// scaled to its range; lines are grouped by loss into a few colours, one trace per group.
const PARALLEL_COLORS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#c2df23", "#fde725"];

async function drawParallel() {
  const p = await api("parallel");
  const names = p.labels.concat(["loss"]);
  const columns = p.labels.map((_, j) => p.values.map((row) => row[j])).concat([p.losses]);
  const scaled = columns.map((column) => {
    const known = column.filter((v) => v !== null);
    const lo = Math.min(...known), hi = Math.max(...known);
    return column.map((v) => (v === null ? null : (hi > lo ? (v - lo) / (hi - lo) : 0.5)));
  });
  const order = p.losses.map((loss, i) => [loss, i]).filter(([loss]) => loss !== null)
    .sort((a, b) => a[0] - b[0]).map(([, i]) => i);
  const groups = PARALLEL_COLORS.map(() => ({ x: [], y: [] }));
  order.forEach((i, rank) => {
    // Best losses are drawn last (on top) in the darkest colour.
    const g = groups[Math.floor(rank * PARALLEL_COLORS.length / order.length)];
    names.forEach((_, j) => { g.x.push(j); g.y.push(scaled[j][i]); });
    g.x.push(null); g.y.push(null);
  });
  const traces = groups.map((g, k) => ({ x: g.x, y: g.y, mode: "lines", hoverinfo: "skip",
    line: { width: 1, color: PARALLEL_COLORS[k] }, opacity: 0.5, connectgaps: false }));
  const note = p.total > p.tids.length
    ? `${p.tids.length} of ${p.total} trials: the best and an even sample of the others` : "";
  draw("parallel", traces.reverse(), {
    title: { text: note, font: { size: 12 } },
    xaxis: { tickvals: names.map((_, j) => j), ticktext: names, range: [-0.2, names.length - 0.8] },
    yaxis: { range: [-0.05, 1.05], showticklabels: false, title: { text: "scaled to each axis's range" } },
  });
  document.getElementById("parallel").dataset.lines = String(order.length);
}

async function drawSlices() {
  const slices = await api("slices");
  const grid = document.getElementById("slices");
  const labels = Object.keys(slices);
  if (grid.dataset.labels !== labels.join("\u0000")) {
    grid.innerHTML = labels.map((l, i) => `<div class="plot" id="slice-${i}"></div>`).join("");
    grid.dataset.labels = labels.join("\u0000");
  }
  labels.forEach((label, i) => {
    const s = slices[label];
    draw(`slice-${i}`, [{ x: s.values, y: s.losses, text: s.tids.map((t) => `trial ${t}`),
                          mode: "markers", type: s.tids.length > 2000 ? "scattergl" : "scatter",
                          marker: { size: 5, color: s.tids, colorscale: "Viridis" } }],
         { xaxis: { title: { text: label } }, yaxis: { title: { text: "loss" } } });
  });
}

async function showTrial(tid) {
  state.detailTid = tid;
  const t = await api("trial", `tid=${tid}`);
  document.getElementById("detail-card").classList.remove("hidden");
  document.getElementById("detail-tid").textContent = String(tid);
  document.getElementById("detail-json").textContent = JSON.stringify(
    { status: t.row.status, loss: t.row.loss, params: t.row.params, result: t.result,
      owner: t.row.owner, attempt: t.attempt, book_time: t.book_time,
      refresh_time: t.refresh_time, error: t.row.error, nas_ops: t.nas_ops }, null, 1);
  const parents = t.parents.map((p) => `<a href="#" data-tid="${p.tid}">trial ${p.tid}</a> ` +
    `(${p.status}, loss ${fmt(p.loss)}${p.nas_ops ? ", " + escapeHtml(JSON.stringify(p.nas_ops)) : ""})`);
  document.getElementById("parents").innerHTML = parents.length
    ? "morphism parents, nearest first: " + parents.join(" \u2190 ") : "";
  const graphs = Object.entries(t.architectures);
  const div = document.getElementById("arch-graph");
  if (!graphs.length) { Plotly.purge(div); div.style.display = "none"; return; }
  div.style.display = "";
  const [label, g] = graphs[0];
  const at = Object.fromEntries(g.nodes.map((n) => [n.id, n]));
  const ex = [], ey = [];
  for (const [a, b] of g.edges) { ex.push(at[a].x, at[b].x, null); ey.push(at[a].y, at[b].y, null); }
  const height = Math.max(320, 28 * (Math.max(...g.nodes.map((n) => n.y)) + 2));
  div.style.height = height + "px";
  draw(div, [
    { x: ex, y: ey, mode: "lines", line: { color: "#999" }, hoverinfo: "skip" },
    { x: g.nodes.map((n) => n.x), y: g.nodes.map((n) => n.y), mode: "markers+text",
      text: g.nodes.map((n) => n.label), textposition: "middle right",
      marker: { size: 10, color: "#7c3aed" } },
  ], { title: { text: `architecture ${label}` }, margin: { l: 10, r: 10, t: 30, b: 10 },
       xaxis: { visible: false }, yaxis: { visible: false, autorange: "reversed" },
       height });
}

// -- polling ---------------------------------------------------------------------------------

async function redraw() {
  await Promise.all([drawHistory(), drawTable(), drawImportances(), drawIntermediate(),
                     drawParallel(), drawSlices()]);
  if (state.detailTid !== null) await showTrial(state.detailTid);
}

let polls = 0;

async function poll() {
  try {
    if (!experiments.length || ++polls % 10 === 0) await loadExperiments();
    if (!experiments.length) {
      document.getElementById("summary").textContent = "no experiment in this store yet";
      setTimeout(poll, POLL_MS);
      return;
    }
    const s = await api("summary");
    const counts = Object.entries(s.counts).map(([k, n]) => `${k} ${n}`).join(", ");
    const best = s.best ? ` \u2014 best ${fmt(s.best.loss)} (trial ${s.best.tid})` : "";
    document.getElementById("summary").textContent = `${s.n_trials} trials: ${counts || "none"}${best}`;
    state.bestTid = s.best ? s.best.tid : null;
    if (s.revision !== state.revision) {
      state.revision = s.revision;
      await redraw();
    }
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById("updated").textContent = "error: " + e.message;
  }
  setTimeout(poll, POLL_MS);
}

function refreshTable() { drawTable().catch((e) => { document.getElementById("updated").textContent = e.message; }); }

// The experiments of the store: read at start, and again while polling (a search started
// after the dashboard adds its experiment later).
let experiments = [];

async function loadExperiments() {
  const info = await (await fetch("/api/experiments")).json();
  document.getElementById("source").textContent = info.url;
  state.allowWrite = info.allow_write;
  if (JSON.stringify(info.experiments) === JSON.stringify(experiments)) return;
  experiments = info.experiments;
  const select = document.getElementById("experiment");
  select.innerHTML = experiments.map((k, i) =>
    `<option value="${i}">${k === null ? "(no exp_key)" : escapeHtml(k)}</option>`).join("");
  const wanted = state.exp !== null ? state.exp : decodeURIComponent(location.hash.slice(1));
  const chosen = experiments.indexOf(wanted);
  select.value = String(chosen >= 0 ? chosen : 0);
  const exp = experiments.length ? experiments[Number(select.value)] : null;
  if (exp !== state.exp) Object.assign(state, { exp, revision: -1, offset: 0 });
}

async function start() {
  await loadExperiments();
  const select = document.getElementById("experiment");
  select.addEventListener("change", () => {
    state.exp = experiments[Number(select.value)];
    location.hash = state.exp === null ? "" : encodeURIComponent(state.exp);
    Object.assign(state, { revision: -1, offset: 0, detailTid: null });
    document.getElementById("detail-card").classList.add("hidden");
  });
  document.getElementById("trials").addEventListener("click", (event) => {
    const cancel = event.target.dataset && event.target.dataset.cancel;
    if (cancel !== undefined) { post("cancel", { exp: state.exp, tid: Number(cancel) }); return; }
    const th = event.target.closest("th");
    if (th && th.dataset.sort) {
      state.desc = state.sort === th.dataset.sort ? !state.desc : false;
      state.sort = th.dataset.sort;
      refreshTable();
      return;
    }
    const tr = event.target.closest("tr[data-tid]");
    if (tr) showTrial(Number(tr.dataset.tid));
  });
  document.getElementById("parents").addEventListener("click", (event) => {
    if (event.target.dataset.tid) { event.preventDefault(); showTrial(Number(event.target.dataset.tid)); }
  });
  document.getElementById("status-filter").addEventListener("change", (event) => {
    state.status = event.target.value; state.offset = 0; refreshTable();
  });
  document.getElementById("prev-page").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE); refreshTable();
  });
  document.getElementById("next-page").addEventListener("click", () => {
    state.offset += PAGE; refreshTable();
  });
  if (state.allowWrite) {
    document.getElementById("write-card").classList.remove("hidden");
    document.getElementById("enqueue").addEventListener("click", () => {
      let point;
      try { point = JSON.parse(document.getElementById("point").value); } catch (e) {
        document.getElementById("write-status").textContent = "not JSON: " + e.message; return;
      }
      post("enqueue", { exp: state.exp, point });
    });
  }
  poll();
}

async function post(name, body) {
  const response = await fetch("/api/" + name, { method: "POST", body: JSON.stringify(body),
                                                  headers: { "Content-Type": "application/json" } });
  const answer = await response.json();
  document.getElementById("write-status").textContent =
    response.ok ? `${name}: ${JSON.stringify(answer)}` : `${name} refused: ${answer.error}`;
  state.revision = -1;
}

start();
