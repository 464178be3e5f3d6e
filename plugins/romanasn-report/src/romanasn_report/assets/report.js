/* romanasn report: the page's script. Plain JavaScript, no library, no network.
 * The summary is inlined in the page; the rest is in <page>_data/, loaded by <script> tags when needed
 * (so the page works from file:// without a server). Each data file calls RomanasnReport.<kind>(...). */
(function () {
  "use strict";
  const S = JSON.parse(document.getElementById("report-summary").textContent);
  const PAGE = 200;
  const store = { rows: {}, json: {}, names: {}, members: "", lower: null, verdicts: {}, explain: {}, sky: null, diff: null };
  const R = (window.RomanasnReport = {
    rows: (k, cols) => { store.rows[k] = cols; },
    json: (k, items) => { store.json[k] = items; },
    names: (k, pair) => { store.names[k] = pair; },
    members: (names) => {  // the names are a comment of the function (its source, as toString gives it)
      const source = names.toString();
      store.members = source.slice(source.indexOf("/*\n") + 3, source.lastIndexOf("\n*/"));
    },
    sky: (data) => { store.sky = data; },
    explain: (k, pair) => { store.explain[k] = pair; },
    verdicts: (k, items) => { store.verdicts[k] = items; },
    diff: (data) => { store.diff = data; },
  });
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  };
  const fmt = (n) => (n == null ? "?" : Number(n).toLocaleString("en"));

  // -- loading data files ---------------------------------------------------------------------
  const loading = {};
  function load(kind, k) {
    const name = k == null ? `${kind}.js` : `${kind}-${String(k).padStart(4, "0")}.js`;
    if (!loading[name]) {
      loading[name] = new Promise((resolve, reject) => {
        const script = el("script", { src: `${S.data}/${name}` });
        script.onload = () => resolve();
        script.onerror = () => reject(new Error(`cannot load ${S.data}/${name}: is the data folder beside the page?`));
        document.head.append(script);
      });
    }
    return loading[name];
  }
  function fail(error) {
    const box = $("errors");
    box.hidden = false;
    box.textContent = String(error.message || error);
  }
  const C = S.chunks;
  const chunkOf = (row) => Math.floor(row / C.size);
  function row(r) {
    const cols = store.rows[chunkOf(r)];
    const i = r - chunkOf(r) * C.size;
    return { id: r, product: cols.product[i], rule: C.rules[cols.rule[i]], type: C.types[cols.type[i]],
      program: C.programs[cols.program[i]], members: cols.members[i], file: cols.file[i], diff: cols.diff[i], json: cols.json[i] };
  }
  async function loadChunks(ks, what) {
    let done = 0;
    for (const k of ks) {
      await load("rows", k);
      done += 1;
      if (ks.length > 2) status(`loading ${what}: ${done} of ${ks.length} parts`);
    }
  }

  // -- tabs -------------------------------------------------------------------------------------
  const tabs = ["summary", "associations", "sky", "leftout"];
  function show(name) {
    for (const t of tabs) {
      $(`tab-${t}`).setAttribute("aria-selected", String(t === name));
      $(`tab-${t}`).tabIndex = t === name ? 0 : -1;
      $(t).hidden = t !== name;
    }
    if (name === "sky") sky.open();
  }
  tabs.forEach((t, i) => {
    const button = $(`tab-${t}`);
    button.addEventListener("click", () => show(t));
    button.addEventListener("keydown", (e) => {
      const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (!step) return;
      const next = tabs[(i + step + tabs.length) % tabs.length];
      show(next);
      $(`tab-${next}`).focus();
    });
  });

  // -- summary -----------------------------------------------------------------------------------
  function countsTable(caption, entries, key) {
    const body = el("tbody");
    for (const [name, count, extra] of entries) {
      const link = el("button", { class: "open", type: "button", text: name || "(none)",
        onclick: () => { setFilter(key, name); show("associations"); } });
      body.append(el("tr", {}, el("td", {}, link), el("td", { class: "num", text: fmt(count) }),
        extra == null ? null : el("td", { text: extra })));
    }
    const head = el("tr", {}, el("th", { scope: "col", text: caption }), el("th", { scope: "col", class: "num", text: "associations" }),
      entries.some((e) => e[2] != null) ? el("th", { scope: "col", text: "pack" }) : null);
    return el("div", {}, el("h3", { text: `By ${caption}` }), el("table", {}, el("thead", {}, head), body));
  }
  function renderSummary() {
    const box = $("summary");
    const cards = el("div", { class: "cards" });
    const card = (label, value) => cards.append(el("div", { class: "card" }, el("b", { text: value }), label));
    card("associations", fmt(S.associations));
    card("pool rows", fmt(S.pool_rows));
    card("rules", fmt(S.rules.length));
    card("memberships vetoed", fmt(S.vetoed));
    card("rows in no association", fmt(S.orphan_count));
    card("failed rules", fmt(S.failed_rules.length));
    if (S.diff) card(`changed since ${S.diff.against}`, `+${fmt(S.diff.added)} −${fmt(S.diff.removed)} ~${fmt(S.diff.changed)}`);
    box.append(el("h2", { text: "The run" }), cards);
    const facts = el("dl");
    const fact = (k, v) => facts.append(el("dt", { text: k }), el("dd", { class: "mono", text: v }));
    fact("folder", S.folder);
    fact("inputs", (S.inputs || []).join(", ") || "(no run report)");
    fact("data release", S.data_release_id || "");
    fact("options", Object.entries(S.options || {}).map(([k, v]) => `${k}=${v}`).join(", ") || "none");
    fact("report written by", `romanasn ${S.romanasn_version}`);
    box.append(facts);
    if (!S.has_run_report) box.append(el("p", { class: "note", text: "The folder has no romanasn-run.json: packs, vetoes and orphans are unknown." }));
    const packs = el("tbody");
    for (const p of S.plugins) packs.append(el("tr", {}, el("td", { text: p.name }), el("td", { text: p.version }), el("td", { text: p.status })));
    box.append(el("h3", { text: "Packs" }), el("table", {}, el("thead", {}, el("tr", {},
      el("th", { scope: "col", text: "pack" }), el("th", { scope: "col", text: "version" }), el("th", { scope: "col", text: "status" }))), packs));
    const grid = el("div", { class: "grid" });
    grid.append(countsTable("rule", S.rules.map((r) => [r.name, r.count, r.plugin ? `${r.plugin} ${r.version || ""}` : ""]), "rule"));
    grid.append(countsTable("type", Object.entries(S.types), "type"));
    grid.append(countsTable("program", Object.entries(S.programs), "program"));
    box.append(el("h2", { text: "What was made" }), grid);
    if (S.failed_rules.length || S.skipped_rules.length) box.append(leftRules());
  }
  function leftRules() {
    const list = el("ul");
    for (const f of S.failed_rules) list.append(el("li", { text: `${f.name} (${f.plugin} ${f.version}) FAILED: ${f.error}` }));
    for (const s of S.skipped_rules) list.append(el("li", { text: `${s.name} (${s.plugin}) skipped: ${s.reason}` }));
    return el("div", {}, el("h3", { text: "Rules that failed or were skipped" }), list);
  }

  // -- left out ----------------------------------------------------------------------------------
  function renderLeftOut() {
    const box = $("leftout");
    box.append(el("h2", { text: `Vetoed memberships (${fmt(S.vetoed)})` }));
    const body = el("tbody");
    for (const v of S.vetoes) {
      const files = el("ul", { class: "files" });
      for (const f of v.files) files.append(el("li", {}, memberButton(f)));
      if (v.count > v.files.length) files.append(el("li", { text: `and ${fmt(v.count - v.files.length)} more` }));
      body.append(el("tr", {}, el("td", { text: v.rule }), el("td", { text: v.reason }), el("td", { text: v.plugin }),
        el("td", { class: "num", text: fmt(v.count) }), el("td", {}, files)));
    }
    box.append(el("table", {}, el("thead", {}, el("tr", {}, ...["rule", "reason", "vetoed by", "rows", "files"].map(
      (t) => el("th", { scope: "col", text: t })))), body));
    box.append(el("h2", { text: `Rows in no association (${fmt(S.orphan_count)})` }));
    if (S.explained) box.append(el("p", { class: "note", text: "Choose a file to see each rule's verdict on it (romanasn explain)." }));
    else box.append(el("p", { class: "note", text: "Give romanasn report --pool POOL to see each rule's verdict on these files." }));
    const orphans = el("ul", { class: "files" });
    for (const f of S.orphans) orphans.append(el("li", {}, memberButton(f)));
    if (S.orphan_count > S.orphans.length) orphans.append(el("li", { text: `and ${fmt(S.orphan_count - S.orphans.length)} more (see romanasn-run.json)` }));
    box.append(orphans, el("section", { id: "leftout-verdicts", "aria-live": "polite" }));
    if (S.failed_rules.length || S.skipped_rules.length) box.append(leftRules());
  }
  function memberButton(name) {
    return el("button", { class: "open mono", type: "button", text: name, onclick: () => explainInto(name, $("leftout-verdicts")) });
  }

  // -- explain verdicts --------------------------------------------------------------------------
  async function explainInto(name, box) {
    box.replaceChildren();
    if (!S.explained) {
      box.append(el("p", { class: "note", text: `Run romanasn explain POOL ${name} (or give romanasn report --pool POOL).` }));
      return;
    }
    const k = await explainedRow(name);
    if (k == null) {
      box.append(el("p", { class: "note", text: `${name}: no row of the pool (${fmt(S.explained.rows)} rows) has this file name or its exposure.` }));
      return;
    }
    const chunk = Math.floor(k / S.explained.chunk);
    await load("verdicts", chunk);
    const found = store.verdicts[chunk][k - chunk * S.explained.chunk];
    box.append(el("h3", { text: `Why ${found.filename}${found.orphan ? " is in no association" : ""}: each rule's verdict` }));
    for (const note of found.notes) box.append(el("p", { class: "note", text: note }));
    for (const v of found.rules) {
      const lines = el("ul");
      for (const n of v.not_selected_by) lines.append(el("li", { text: `not selected by ${n.constraint}` + (n.value == null ? "" : ` (the row has ${JSON.stringify(n.value)})`) }));
      for (const n of v.vetoed_by) lines.append(el("li", { text: `vetoed by ${n.plugin}: ${n.reason}` }));
      for (const key of v.keys) lines.append(el("li", { text: "key: " + Object.entries(key).map(([a, b]) => `${a}=${b}`).join(", ") }));
      for (const a of v.associations) lines.append(el("li", {}, `in `, productButton(a.product_name), ` as ${a.companion ? "companion" : "member"} ${a.expname} (${a.exptype})`));
      const status = v.status.replace(" ", "-");
      box.append(el("div", { class: `verdict ${status}` }, el("b", { text: `${v.rule}` }), ` [${v.plugin}]: ${v.status}${v.detail ? ": " + v.detail : ""}`, lines));
    }
    box.scrollIntoView({ block: "start" });
  }
  // The pool row explained for a file name: names are sorted, in parts whose first names the summary lists.
  async function explainedRow(name) {
    const firsts = S.explained.names;
    let lo = 0, hi = firsts.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (firsts[mid] <= name) lo = mid; else hi = mid - 1; }
    if (!firsts.length || firsts[lo] > name) return null;
    await load("explain", lo);
    const [names, rows] = store.explain[lo];
    let a = 0, b = names.length - 1;
    while (a <= b) { const mid = (a + b) >> 1; if (names[mid] === name) return rows[mid]; if (names[mid] < name) a = mid + 1; else b = mid - 1; }
    return null;
  }
  function productButton(product) {
    return el("button", { class: "open", type: "button", text: product, onclick: () => openByProduct(product) });
  }
  async function openByProduct(product) {
    show("associations");
    setFilter("product", product);
    const rows = await applyFilters();
    const exact = rows && rows.find((r) => row(r).product === product);
    if (exact != null) openDetail(exact);
  }

  // -- the association table -------------------------------------------------------------------
  const F = { rule: $("f-rule"), type: $("f-type"), program: $("f-program"), product: $("f-product"), member: $("f-member"), diff: $("f-diff") };
  const state = { view: null, total: S.associations, page: 0, sort: { key: "rule", dir: 1 }, token: 0, selected: null };
  function fillSelect(select, values) {
    for (const v of values) select.append(el("option", { value: v, text: v || "(none)" }));
  }
  function status(text) { $("status").textContent = text; }
  function setFilter(key, value) {
    F[key].value = value;
    if (key === "rule" || key === "type" || key === "program") applyFilters();
  }
  const filters = () => ({ rule: F.rule.value, type: F.type.value, program: F.program.value,
    product: F.product.value.trim().toLowerCase(), member: F.member.value.trim().toLowerCase(), diff: F.diff.checked });

  // Every member name, sorted, is a line of one text (members.js), searched whole: a part of a name may be
  // anywhere. The associations holding the i-th name are in the names data file i / S.names.size.
  async function memberRows(query) {
    await load("members");
    if (store.lower == null) store.lower = store.members.toLowerCase();
    const text = store.lower, size = S.names.size, hits = [];
    let line = 0, at = 0, first = null;  // the line that starts at `at`
    for (let p = text.indexOf(query); p >= 0; p = text.indexOf(query, at)) {
      for (let n = text.indexOf("\n", at); n >= 0 && n < p; n = text.indexOf("\n", at)) { line += 1; at = n + 1; }
      const end = text.indexOf("\n", p);
      if (first == null) first = text.length === store.members.length
        ? store.members.slice(at, end < 0 ? text.length : end) : store.members.split("\n")[line];
      hits.push(line);
      if (end < 0) break;
      line += 1; at = end + 1;
    }
    await Promise.all([...new Set(hits.map((i) => Math.floor(i / size)))].map((k) => load("names", k)));
    const found = new Set();
    for (const i of hits) {
      const k = Math.floor(i / size), j = i - k * size;
      const [starts, rows] = store.names[k];
      for (let r = starts[j]; r < starts[j + 1]; r++) found.add(rows[r]);
    }
    return [found, { count: hits.length, first }];
  }

  async function applyFilters() {
    const token = ++state.token;
    const f = filters();
    state.page = 0;
    try {
      const sorted = !(state.sort.key === "rule" && state.sort.dir === 1);
      const selects = ["rule", "type", "program"].filter((k) => f[k]);
      if (!sorted && !f.product && !f.member && !f.diff && selects.length <= 1) {
        if (selects.length) lazyView(selects[0], f[selects[0]]);
        else { state.view = null; state.total = S.associations; }
        await renderPage(token);
        if (token === state.token) status(`${fmt(state.total)} ${selects.length ? `of ${fmt(S.associations)} ` : ""}associations`);
        return null;
      }
      status("filtering…");
      if (!f.member) return await filtered(f, null, null, token);
      const [found, matched] = await memberRows(f.member);
      if (token !== state.token) return null;
      return await filtered(f, found, matched, token);
    } catch (error) { fail(error); return null; }
  }
  function lazyView(key, value) {
    const id = C[`${key}s`].indexOf(value);
    const counts = C.rows.map((c) => (c[`${key}s`].find((pair) => pair[0] === id) || [id, 0])[1]);
    state.view = { lazy: true, counts, test: (x) => x[key] === value };
    state.total = counts.reduce((a, b) => a + b, 0);
  }
  async function lazyIds(view, start, end) {
    const ids = [];
    let before = 0;
    for (let k = 0; k < C.rows.length && ids.length < end - start; k++) {
      const n = view.counts[k];
      if (!n || before + n <= start) { before += n; continue; }
      await load("rows", k);
      const c = C.rows[k];
      for (let r = c.start; r < c.start + c.count && ids.length < end - start; r++) {
        if (view.test(row(r))) { if (before >= start) ids.push(r); before += 1; }
      }
    }
    return ids;
  }
  async function filtered(f, found, matched, token) {
    const candidates = found ? Array.from(found).sort((a, b) => a - b) : null;
    const has = (pairs, id) => pairs.some((pair) => pair[0] === id);
    const ri = C.rules.indexOf(f.rule), ti = C.types.indexOf(f.type), pi = C.programs.indexOf(f.program);
    let chunks = C.rows.map((c, k) => k).filter((k) => {
      const c = C.rows[k];
      return (!f.rule || has(c.rules, ri)) && (!f.type || has(c.types, ti)) && (!f.program || has(c.programs, pi));
    });
    if (candidates) {
      const needed = new Set(candidates.map(chunkOf));
      chunks = chunks.filter((k) => needed.has(k));
    }
    await loadChunks(chunks, "the associations");
    if (token !== state.token) return null;
    const keep = (r) => {
      const x = row(r);
      return (!f.rule || x.rule === f.rule) && (!f.type || x.type === f.type) && (!f.program || x.program === f.program)
        && (!f.product || x.product.toLowerCase().includes(f.product)) && (!f.diff || x.diff !== 0);
    };
    let view = [];
    if (candidates) view = candidates.filter(keep);
    else for (const k of chunks) { const c = C.rows[k]; for (let r = c.start; r < c.start + c.count; r++) if (keep(r)) view.push(r); }
    if (f.diff && !f.member) {
      await load("diff");
      store.diff.removed.forEach((x, i) => {
        const pseudo = removedRow(i);
        if ((!f.rule || pseudo.rule === f.rule) && (!f.type || pseudo.type === f.type) && (!f.product || pseudo.product.toLowerCase().includes(f.product))) view.push(`removed:${i}`);
      });
    }
    sortView(view);
    state.view = view;
    state.total = view.length;
    await renderPage(token);
    if (token !== state.token) return null;
    let text = `${fmt(view.length)} of ${fmt(S.associations)} associations`;
    if (matched) text += matched.count === 1 ? ` hold ${matched.first}` : ` hold one of ${fmt(matched.count)} member files matching “${f.member}”`;
    status(text);
    return view;
  }
  function removedRow(i) {
    const x = store.diff.removed[i];
    return { id: `removed:${i}`, product: x.product, rule: x.asn_rule, type: x.asn_type, program: "", members: x.members, file: x.file, diff: 3 };
  }
  const get = (r) => (typeof r === "string" ? removedRow(Number(r.slice(8))) : row(r));
  function sortView(view) {
    const { key, dir } = state.sort;
    if (key === "rule" && dir === 1) return;
    const num = key === "members";
    view.sort((a, b) => {
      const x = get(a)[key], y = get(b)[key];
      const c = num ? x - y : String(x).localeCompare(String(y), "en", { numeric: true });
      return c * dir || String(a).localeCompare(String(b), "en", { numeric: true });
    });
  }
  async function renderPage(token) {
    const start = state.page * PAGE;
    const end = Math.min(start + PAGE, state.total);
    let ids = [];
    if (state.view && state.view.lazy) ids = await lazyIds(state.view, start, end);
    else for (let i = start; i < end; i++) ids.push(state.view ? state.view[i] : i);
    const chunks = [...new Set(ids.filter((r) => typeof r === "number").map(chunkOf))];
    await loadChunks(chunks, "the associations");
    if (token !== state.token) return;
    const body = document.querySelector("#table tbody");
    body.replaceChildren();
    const names = ["", "added", "changed", "removed"];
    for (const id of ids) {
      const x = get(id);
      const tr = el("tr", { class: x.diff ? `diff-${names[x.diff]}` : "", "data-row": String(id) });
      const open = typeof id === "number"
        ? el("button", { class: "open", type: "button", text: x.product, onclick: () => openDetail(id) })
        : el("span", { text: x.product });
      tr.append(el("td", {}, open), el("td", { text: x.rule }), el("td", { class: "col-type", text: x.type }),
        el("td", { text: x.program }), el("td", { class: "num", text: fmt(x.members) }), el("td", { class: "mono col-file", text: x.file }),
        el("td", { class: "col-diff" }, x.diff ? el("span", { class: `tag ${names[x.diff]}`, text: names[x.diff] }) : ""));
      if (id === state.selected) tr.classList.add("selected");
      body.append(tr);
    }
    const pages = Math.max(1, Math.ceil(state.total / PAGE));
    $("page-label").textContent = `page ${state.page + 1} of ${fmt(pages)}`;
    $("page-prev").disabled = state.page === 0;
    $("page-next").disabled = state.page + 1 >= pages;
    $("pager").hidden = pages <= 1;
  }
  document.querySelectorAll("#table th button").forEach((button) => button.addEventListener("click", () => {
    const key = button.dataset.sort;
    state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 };
    document.querySelectorAll("#table th").forEach((th) => th.setAttribute("aria-sort", "none"));
    button.parentElement.setAttribute("aria-sort", state.sort.dir === 1 ? "ascending" : "descending");
    applyFilters();
  }));
  $("page-prev").addEventListener("click", () => { state.page -= 1; renderPage(state.token).catch(fail); });
  $("page-next").addEventListener("click", () => { state.page += 1; renderPage(state.token).catch(fail); });
  let typing = null;
  for (const input of [F.product, F.member]) input.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(applyFilters, 250); });
  for (const select of [F.rule, F.type, F.program, F.diff]) select.addEventListener("change", applyFilters);
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); applyFilters(); });
  $("filters").addEventListener("reset", () => setTimeout(applyFilters, 0));

  // -- one association ----------------------------------------------------------------------------
  async function openDetail(r) {
    try {
      await load("rows", chunkOf(r));
      const x = row(r);
      const k = Math.floor(x.json / S.json_chunk);
      await load("json", k);
      const data = store.json[k][x.json - k * S.json_chunk];
      state.selected = r;
      document.querySelectorAll("#table tr.selected").forEach((tr) => tr.classList.remove("selected"));
      const tr = document.querySelector(`#table tr[data-row="${r}"]`);
      if (tr) tr.classList.add("selected");
      const box = $("detail");
      box.hidden = false;
      $("detail-title").textContent = x.product;
      const facts = $("detail-facts");
      facts.replaceChildren();
      const fact = (k2, v) => { if (v != null && v !== "") facts.append(el("dt", { text: k2 }), el("dd", { class: "mono", text: String(v) })); };
      fact("file", x.file);
      fact("rule", data.asn_rule);
      fact("type", data.asn_type);
      fact("asn_id", data.asn_id);
      fact("program", data.program);
      fact("target", data.target);
      fact("pool", data.asn_pool);
      fact("made by", data.romanasn ? `${data.romanasn.plugin} ${data.romanasn.plugin_version}` : "");
      fact("degraded", data.degraded_status);
      await renderDiffDetail(r, x);
      const body = document.querySelector("#members tbody");
      body.replaceChildren();
      let shown = 0, count = 0;
      for (const product of data.products) for (const m of product.members) {
        count += 1;
        if (shown >= 2000) continue;
        shown += 1;
        body.append(el("tr", {}, el("td", { class: "mono", text: m.expname }), el("td", { text: m.exptype }),
          el("td", {}, el("button", { class: "open", type: "button", text: "every association", "aria-label": `every association holding ${m.expname}`,
            onclick: () => { F.member.value = m.expname; applyFilters(); } })),
          el("td", {}, el("button", { class: "open", type: "button", text: "verdicts", "aria-label": `explain ${m.expname}`,
            onclick: () => explainInto(m.expname, $("verdicts")) }))));
      }
      if (count > shown) body.append(el("tr", {}, el("td", { colspan: "4", text: `and ${fmt(count - shown)} more members (in the JSON below)` })));
      $("verdicts").replaceChildren();
      $("detail-json").textContent = JSON.stringify(data, null, 2);
      box.focus();
    } catch (error) { fail(error); }
  }
  async function renderDiffDetail(r, x) {
    const box = $("detail-diff");
    box.replaceChildren();
    if (!S.diff || !x.diff) return;
    if (x.diff === 1) { box.append(el("p", {}, el("span", { class: "tag added", text: "added" }), ` not in ${S.diff.against}`)); return; }
    await load("diff");
    const c = store.diff.changed[String(r)];
    const list = el("ul");
    for (const [k, v] of Object.entries(c.fields)) list.append(el("li", { text: `${k}: ${JSON.stringify(v.a)} → ${JSON.stringify(v.b)}` }));
    for (const m of c.gained) list.append(el("li", { text: `+ ${m.expname} (${m.exptype})` }));
    for (const m of c.lost) list.append(el("li", { text: `− ${m.expname} (${m.exptype})` }));
    for (const m of c.altered) list.append(el("li", { text: `~ ${m.a.expname}: ${JSON.stringify(m.a)} → ${JSON.stringify(m.b)}` }));
    box.append(el("p", {}, el("span", { class: "tag changed", text: "changed" }), ` since ${S.diff.against} (${c.file_a}):`), list);
  }
  $("detail-close").addEventListener("click", closeDetail);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("detail").hidden) closeDetail(); });
  function closeDetail() {
    $("detail").hidden = true;
    const button = document.querySelector(`#table tr[data-row="${state.selected}"] .open`);
    state.selected = null;
    if (button) button.focus();
  }

  // -- the sky --------------------------------------------------------------------------------------
  const sky = {
    ready: false, scale: 1, x: 0, y: 0, shapes: [],
    async open() {
      const note = $("sky-note");
      if (!S.files.sky) { note.textContent = "Give romanasn report --pool POOL to draw the footprints of the Level 3 associations (their members' s_region)."; return; }
      if (!this.ready) {
        try { await load("sky"); } catch (error) { fail(error); return; }
        this.ready = true;
        const d = store.sky;
        this.shapes = d.footprints.map(([r, rule, product, xy]) => ({ row: r, rule, product, xy, area: area(xy) }));
        this.shapes.sort((a, b) => b.area - a.area);
        const rules = [...new Set(this.shapes.map((s) => s.rule))].sort();
        fillSelect($("sky-rule"), rules);
        const palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];
        this.colours = Object.fromEntries(rules.map((r, i) => [r, palette[i % palette.length]]));
        this.legend(rules);
        note.textContent = d.missing || `${fmt(this.shapes.length)} Level 3 footprints (the hull of each association's members' s_region)` +
          (d.outlines.length ? ` and ${fmt(d.outlines.length)} ${d.outlines[0].kind || "outline"}s from the packs` : "") +
          `, centred on RA ${d.centre[0]}, Dec ${d.centre[1]}; east to the left, north up, in degrees from the centre.`;
        this.fit();
      }
      this.draw();
    },
    legend(rules) {
      const box = $("sky-legend");
      for (const r of rules) box.append(el("li", {}, el("span", { class: "swatch", style: `border-color:${this.colours[r]}` }), r));
      if (store.sky.outlines.length) box.append(el("li", {}, el("span", { class: "swatch outline" }), store.sky.outlines[0].kind || "outline"));
    },
    visible() { const rule = $("sky-rule").value; return this.shapes.filter((s) => !rule || s.rule === rule); },
    fit() {
      const all = this.visible().map((s) => s.xy).concat(store.sky.outlines.map((o) => o.xy));
      let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      for (const xy of all) for (let i = 0; i < xy.length; i += 2) {
        x0 = Math.min(x0, xy[i]); x1 = Math.max(x1, xy[i]); y0 = Math.min(y0, xy[i + 1]); y1 = Math.max(y1, xy[i + 1]);
      }
      if (!isFinite(x0)) { x0 = -1; x1 = 1; y0 = -1; y1 = 1; }
      const canvas = $("sky-canvas");
      const w = canvas.clientWidth || 600, h = canvas.clientHeight || 400;
      this.scale = 0.92 * Math.min(w / Math.max(x1 - x0, 1e-6), h / Math.max(y1 - y0, 1e-6));
      this.x = (x0 + x1) / 2; this.y = (y0 + y1) / 2;
    },
    toScreen(ex, ny, w, h) { return [w / 2 - (ex - this.x) * this.scale, h / 2 - (ny - this.y) * this.scale]; },
    toSky(px, py, w, h) { return [this.x - (px - w / 2) / this.scale, this.y - (py - h / 2) / -this.scale]; },
    draw() {
      if (!this.ready) return;
      const canvas = $("sky-canvas");
      const ratio = window.devicePixelRatio || 1;
      const w = canvas.clientWidth, h = canvas.clientHeight;
      canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
      const g = canvas.getContext("2d");
      g.setTransform(ratio, 0, 0, ratio, 0, 0);
      g.clearRect(0, 0, w, h);
      const path = (xy) => {
        g.beginPath();
        for (let i = 0; i < xy.length; i += 2) { const [px, py] = this.toScreen(xy[i], xy[i + 1], w, h); i ? g.lineTo(px, py) : g.moveTo(px, py); }
        g.closePath();
      };
      g.setLineDash([4, 3]); g.strokeStyle = "#8a93a6"; g.lineWidth = 1;
      for (const o of store.sky.outlines) { path(o.xy); g.stroke(); }
      g.setLineDash([]);
      for (const s of this.visible()) {
        path(s.xy);
        g.globalAlpha = 0.08; g.fillStyle = this.colours[s.rule]; g.fill();
        g.globalAlpha = 0.9; g.strokeStyle = this.colours[s.rule]; g.lineWidth = s.row === state.selected ? 3 : 1; g.stroke();
      }
      g.globalAlpha = 1;
    },
    at(px, py) {
      const canvas = $("sky-canvas");
      const [ex, ny] = this.toSky(px, py, canvas.clientWidth, canvas.clientHeight);
      let best = null;
      for (const s of this.visible()) if (inside(s.xy, ex, ny) && (!best || s.area < best.area)) best = s;
      return best;
    },
    zoom(factor) { this.scale *= factor; this.draw(); },
  };
  function area(xy) { let a = 0; for (let i = 0; i < xy.length; i += 2) { const j = (i + 2) % xy.length; a += xy[i] * xy[j + 1] - xy[j] * xy[i + 1]; } return Math.abs(a) / 2; }
  function inside(xy, x, y) {
    let hit = false;
    for (let i = 0, j = xy.length - 2; i < xy.length; j = i, i += 2) {
      const xi = xy[i], yi = xy[i + 1], xj = xy[j], yj = xy[j + 1];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
    }
    return hit;
  }
  (function skyEvents() {
    const canvas = $("sky-canvas");
    let drag = null;
    canvas.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, moved: false }; canvas.setPointerCapture(e.pointerId); });
    canvas.addEventListener("pointermove", (e) => {
      const box = canvas.getBoundingClientRect();
      if (drag) {
        const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
        sky.x += dx / sky.scale; sky.y += dy / sky.scale;
        drag.x = e.clientX; drag.y = e.clientY;
        sky.draw();
      } else {
        const s = sky.at(e.clientX - box.left, e.clientY - box.top);
        $("sky-hover").textContent = s ? `${s.product} (${s.rule})` : "";
      }
    });
    canvas.addEventListener("pointerup", (e) => {
      const box = canvas.getBoundingClientRect();
      if (drag && !drag.moved) {
        const s = sky.at(e.clientX - box.left, e.clientY - box.top);
        if (s) { show("associations"); openDetail(s.row); }
      }
      drag = null;
    });
    canvas.addEventListener("wheel", (e) => { e.preventDefault(); sky.zoom(e.deltaY < 0 ? 1.25 : 0.8); }, { passive: false });
    canvas.addEventListener("keydown", (e) => {
      const step = 40 / sky.scale;
      const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (moves[e.key]) { sky.x += moves[e.key][0]; sky.y += moves[e.key][1]; sky.draw(); e.preventDefault(); }
      else if (e.key === "+" || e.key === "=") sky.zoom(1.25);
      else if (e.key === "-") sky.zoom(0.8);
    });
    $("sky-in").addEventListener("click", () => sky.zoom(1.25));
    $("sky-out").addEventListener("click", () => sky.zoom(0.8));
    $("sky-fit").addEventListener("click", () => { sky.fit(); sky.draw(); });
    $("sky-rule").addEventListener("change", () => { sky.fit(); sky.draw(); });
    window.addEventListener("resize", () => { if (!$("sky").hidden) sky.draw(); });
  })();

  // -- start ------------------------------------------------------------------------------------------
  fillSelect(F.rule, C.rules);
  fillSelect(F.type, C.types);
  fillSelect(F.program, C.programs);
  if (S.diff) {
    $("f-diff-label").hidden = false;
    $("f-diff-against").textContent = S.diff.against;
  } else {
    document.body.classList.add("no-diff");
  }
  renderSummary();
  renderLeftOut();
  applyFilters();
  R.ready = true;
})();
