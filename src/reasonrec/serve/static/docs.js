// Renders this service's /openapi.json as a readable reference: every path, its parameters, request body and
// responses. Local script, no external assets (the stock Swagger page would load its code from a CDN).
"use strict";

const el = (tag, text, cls) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
};

function resolve(spec, schema) {
  if (schema && schema.$ref) return spec.components.schemas[schema.$ref.split("/").pop()] || {};
  return schema || {};
}

function typeOf(spec, schema) {
  schema = resolve(spec, schema);
  if (schema.anyOf) return schema.anyOf.map((s) => typeOf(spec, s)).join(" | ");
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const bounds = [];
  for (const [key, sign] of [["minimum", "≥"], ["maximum", "≤"], ["minLength", "len ≥"], ["maxLength", "len ≤"]]) {
    if (schema[key] !== undefined) bounds.push(`${sign} ${schema[key]}`);
  }
  return (schema.type || "object") + (bounds.length ? ` (${bounds.join(", ")})` : "");
}

function fieldTable(rows) {
  const table = el("table");
  const head = el("tr");
  for (const h of ["name", "in", "type", "required", "description"]) head.append(el("th", h));
  table.append(head);
  for (const row of rows) {
    const tr = el("tr");
    for (const cell of row) tr.append(el("td", cell));
    table.append(tr);
  }
  return table;
}

function renderOperation(spec, path, method, op) {
  const section = el("section", undefined, "operation");
  section.append(el("h2", `${method.toUpperCase()} ${path}`));
  if (op.summary) section.append(el("p", op.summary));
  if (op.description) section.append(el("p", op.description, "meta"));
  const rows = (op.parameters || []).map((p) => [p.name, p.in, typeOf(spec, p.schema), p.required ? "yes" : "",
    p.description || (p.schema && p.schema.description) || ""]);
  const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
  if (body) {
    const schema = resolve(spec, body.schema);
    const required = new Set(schema.required || []);
    for (const [name, field] of Object.entries(schema.properties || {})) {
      rows.push([name, "body", typeOf(spec, field), required.has(name) ? "yes" : "", field.description || ""]);
    }
  }
  if (rows.length) section.append(fieldTable(rows));
  const codes = Object.keys(op.responses || {}).join(", ");
  section.append(el("p", `responses: ${codes}; errors are {"error": {"message", "type", "param", "code"}}`, "meta"));
  return section;
}

async function load() {
  const key = localStorage.getItem("reasonrec.apiKey");
  const response = await fetch("/openapi.json", { headers: key ? { "X-API-Key": key } : {} });
  if (!response.ok) throw new Error(`${response.status}: set the API key above to read the reference`);
  const spec = await response.json();
  document.getElementById("api-title").textContent = `${spec.info.title} — API reference`;
  document.getElementById("api-description").textContent = spec.info.description || "";
  const main = document.getElementById("operations");
  main.replaceChildren();
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) main.append(renderOperation(spec, path, method, op));
  }
  document.getElementById("status").textContent = "";
}

document.getElementById("api-key").value = localStorage.getItem("reasonrec.apiKey") || "";
document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem("reasonrec.apiKey", document.getElementById("api-key").value);
  load().catch((e) => { document.getElementById("status").textContent = e.message; });
});
load().catch((e) => { document.getElementById("status").textContent = e.message; });
