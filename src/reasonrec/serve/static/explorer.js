// reasonrec explorer: pick a user, see their history, compare two methods' lists side by side, read and rate
// explanations. Plain DOM (no build step, no external assets); every text from the API goes in via textContent.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const DIMENSIONS = ["persuasiveness", "transparency", "accuracy", "satisfaction"];
const state = { users: [], offset: 0, total: 0, user: null, methods: [], saved: new Map() };

function setStatus(text) { $("#status").textContent = text || ""; }

function headers(json) {
  const h = {};
  const key = localStorage.getItem("reasonrec.apiKey");
  if (key) h["X-API-Key"] = key;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    method: options.method || "GET",
    headers: headers(options.body !== undefined),
    body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (data.error && data.error.message) || response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return data;
}

function annotator() { return localStorage.getItem("reasonrec.annotator") || ""; }

// ---------------------------------------------------------------------------------------------- users

async function loadUsers(reset) {
  if (reset) { state.users = []; state.offset = 0; $("#user-list").replaceChildren(); }
  const q = $("#user-filter").value.trim();
  const query = new URLSearchParams({ offset: String(state.offset), limit: "50" });
  if (q) query.set("q", q);
  const page = await api(`/api/users?${query}`);
  state.total = page.total;
  state.offset += page.users.length;
  for (const id of page.users) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = id;
    button.dataset.user = id;
    button.addEventListener("click", () => selectUser(id).catch((e) => setStatus(e.message)));
    li.append(button);
    $("#user-list").append(li);
  }
  $("#more-users").hidden = state.offset >= state.total;
}

async function selectUser(id) {
  setStatus("");
  state.user = id;
  for (const b of document.querySelectorAll("#user-list button")) b.classList.toggle("active", b.dataset.user === id);
  const data = await api(`/api/users/${encodeURIComponent(id)}`);
  $("#user-title").textContent = `${id} (${data.interactions} interactions)`;
  const body = $("#history tbody");
  body.replaceChildren();
  for (const row of data.history) {
    const tr = document.createElement("tr");
    const date = row.timestamp ? new Date(row.timestamp * 1000).toISOString().slice(0, 10) : "";
    for (const [text, cls] of [[row.title || row.item_id], [row.rating ?? ""],
                               [row.liked === null ? "" : row.liked ? "liked" : "disliked", `liked-${row.liked}`],
                               [date]]) {
      const td = document.createElement("td");
      td.textContent = String(text);
      if (cls) td.className = cls;
      tr.append(td);
    }
    body.append(tr);
  }
  $("#user-panel").hidden = false;
  $("#compare").hidden = false;
  for (const column of document.querySelectorAll(".column")) column.querySelector(".recs").replaceChildren();
  await loadSaved();
}

async function loadSaved() {
  state.saved = new Map();
  if (!annotator() || !state.user) return;
  const query = new URLSearchParams({ user_id: state.user, annotator: annotator() });
  const data = await api(`/api/annotations?${query}`);
  for (const row of data.annotations) state.saved.set(`${row.method}|${row.item_id}`, row);
}

// ---------------------------------------------------------------------------------------------- lists

async function loadList(column) {
  if (!state.user) return;
  setStatus("");
  const method = column.querySelector(".method").value;
  const n = Math.max(1, Math.min(50, Number($("#n").value) || 5));
  const query = new URLSearchParams({ n: String(n), method, explain: String($("#explain").checked) });
  const list = column.querySelector(".recs");
  list.replaceChildren();
  column.querySelector(".load").disabled = true;
  try {
    const data = await api(`/api/recommend/${encodeURIComponent(state.user)}?${query}`);
    for (const item of data.items) list.append(renderItem(item, method));
  } finally {
    column.querySelector(".load").disabled = false;
  }
}

function renderItem(item, method) {
  const node = $("#rec-template").content.firstElementChild.cloneNode(true);
  node.dataset.item = item.item_id;
  $(".title", node).textContent = item.title || item.item_id;
  const parts = [];
  if (item.p_like !== null && item.p_like !== undefined) parts.push(`P(like) ${item.p_like.toFixed(3)}`);
  parts.push(`CF #${item.generator_rank} (${item.generator})`);
  $(".meta", node).textContent = parts.join(" · ");
  for (const name of DIMENSIONS) {
    const select = node.querySelector(`select[name=${name}]`);
    for (let v = 1; v <= 5; v++) select.append(new Option(String(v), String(v), v === 3, v === 3));
  }
  if (item.explanation) showExplanation(node, item);
  const button = $(".explain-one", node);
  button.hidden = !state.canExplain;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const data = await api("/api/explain", { method: "POST", body: { user_id: state.user, item_id: item.item_id } });
      showExplanation(node, data);
    } catch (e) { setStatus(e.message); } finally { button.disabled = false; }
  });
  $(".rating", node).addEventListener("submit", (event) => {
    event.preventDefault();
    saveRating(node, item, method).catch((e) => setStatus(e.message));
  });
  return node;
}

function showExplanation(node, data) {
  node.dataset.explanation = data.explanation || "";
  node.dataset.pLike = data.p_like ?? "";
  $(".why", node).textContent = data.explanation || "(the model gave no explanation)";
  const evidence = data.evidence;
  $(".evidence", node).textContent = evidence && evidence.length
    ? "Evidence: " + evidence.map((e) => `${e.title || e.item_id} (${e.rating ?? "?"})`).join("; ")
    : "Evidence: none retrieved";
  $(".explanation", node).hidden = false;
  const method = node.closest(".column") ? node.closest(".column").querySelector(".method").value : "";
  const saved = state.saved.get(`${method}|${node.dataset.item}`);
  if (saved) fillRating(node, saved);
}

function fillRating(node, saved) {
  for (const name of DIMENSIONS) node.querySelector(`select[name=${name}]`).value = String(saved[name]);
  node.querySelector("textarea[name=comment]").value = saved.comment || "";
  $(".saved", node).textContent = "saved";
}

async function saveRating(node, item, method) {
  if (!annotator()) { setStatus("enter your name above before rating"); return; }
  const form = $(".rating", node);
  const body = { annotator: annotator(), user_id: state.user, item_id: item.item_id, method,
                 explanation: node.dataset.explanation || null,
                 p_like: node.dataset.pLike === "" ? null : Number(node.dataset.pLike) };
  for (const name of DIMENSIONS) body[name] = Number(form.elements[name].value);
  const comment = form.elements.comment.value.trim();
  if (comment) body.comment = comment;
  await api("/api/annotations", { method: "POST", body });
  state.saved.set(`${method}|${item.item_id}`, body);
  $(".saved", node).textContent = "saved";
}

// ---------------------------------------------------------------------------------------------- start

async function refresh() {
  const info = await api("/api/methods");
  $("#bundle-name").textContent = `— ${info.name} (${info.users} users, ${info.items} items)`;
  state.canExplain = info.explain;
  $("#explain").disabled = !info.explain;
  document.querySelectorAll(".column").forEach((column, index) => {
    const select = column.querySelector(".method");
    select.replaceChildren(...info.methods.map((m) => new Option(m, m)));
    select.value = info.methods[Math.min(index, info.methods.length - 1)];
  });
  await loadUsers(true);
  if (state.user) await loadSaved();
}

function init() {
  $("#api-key").value = localStorage.getItem("reasonrec.apiKey") || "";
  $("#annotator").value = annotator();
  $("#settings").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem("reasonrec.apiKey", $("#api-key").value);
    localStorage.setItem("reasonrec.annotator", $("#annotator").value.trim());
    setStatus("");
    refresh().catch((e) => setStatus(e.message));
  });
  $("#user-filter").addEventListener("input", () => loadUsers(true).catch((e) => setStatus(e.message)));
  $("#more-users").addEventListener("click", () => loadUsers(false).catch((e) => setStatus(e.message)));
  for (const column of document.querySelectorAll(".column")) {
    column.querySelector(".load").addEventListener("click", () => loadList(column).catch((e) => setStatus(e.message)));
  }
  refresh().catch((e) => setStatus(`${e.message} — set the API key above if the service needs one`));
}

init();
