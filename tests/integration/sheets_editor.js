const VIEW_ONLY = __VIEW_ONLY__, QUIRKS = __QUIRKS__, DATA = __DATA__, RAW = __RAW__, ROWS = __ROWS__, COLS = __COLS__;
const undo = [];  // per edit: the cells' earlier input, for Ctrl+Z
const grid = document.getElementById('grid'), nameBox = document.getElementById('t-name-box');
const bar = document.getElementById('t-formula-bar-input');
const tabEls = Array.from(document.querySelectorAll('.docs-sheet-tab'));
let gid = null, r = 0, c = 0, sel = null, editing = false, buffer = '', runStart = null;
let chain = Promise.resolve();
const tds = [];
function colName(i) { let s = ''; i += 1; while (i) { const m = (i - 1) % 26; s = String.fromCharCode(65 + m) + s; i = Math.floor((i - 1) / 26); } return s; }
function key(rr, cc) { return rr + ',' + cc; }
function rect() { return sel || [r, c, r, c]; }
function paint(rr, cc) {
  const td = tds[rr][cc], s = rect();
  td.textContent = (editing && rr === r && cc === c) ? buffer : (DATA[gid][key(rr, cc)] || '');
  td.classList.toggle('active', rr === r && cc === c);
  td.classList.toggle('sel', !!sel && rr >= s[0] && rr <= s[2] && cc >= s[1] && cc <= s[3]);
}
function paintRect(s) {
  for (let rr = Math.max(0, s[0]); rr <= Math.min(ROWS - 1, s[2]); rr++)
    for (let cc = Math.max(0, s[1]); cc <= Math.min(COLS - 1, s[3]); cc++) paint(rr, cc);
}
function boxes() {
  nameBox.value = sel ? colName(sel[1]) + (sel[0] + 1) + ':' + colName(sel[3]) + (sel[2] + 1) : colName(c) + (r + 1);
  bar.textContent = editing ? buffer : (DATA[gid][key(r, c)] || '');
}
function move(nr, nc, nsel) {
  const old = rect();
  r = Math.max(0, Math.min(ROWS - 1, nr)); c = Math.max(0, Math.min(COLS - 1, nc)); sel = nsel;
  paintRect(old); paintRect(rect()); boxes();
}
function save(cells, undoing) {
  if (VIEW_ONLY || !cells.length) return;
  if (!undoing) undo.push(cells.map(([rr, cc]) => [rr, cc, RAW[gid][key(rr, cc)] || '']));
  for (const [rr, cc, v] of cells) { DATA[gid][key(rr, cc)] = v; RAW[gid][key(rr, cc)] = v; }
  const g = gid;
  chain = chain.then(() => fetch('cells', {method: 'POST', body: JSON.stringify({gid: g, cells})}))
    .then(resp => resp.json()).then(shown => {
      for (const [rr, cc, v] of shown) { DATA[g][key(rr, cc)] = v; if (g === gid) paint(rr, cc); }
      boxes();
    });
  for (const [rr, cc] of cells) paint(rr, cc);
}
function commit() { if (editing) { editing = false; save([[r, c, buffer]]); buffer = ''; } }
function parseRef(ref) {
  const m = /^\$?([A-Z]{1,3})\$?(\d{1,7})$/.exec(ref.trim().toUpperCase()); if (!m) return null;
  let cc = 0; for (const ch of m[1]) cc = cc * 26 + ch.charCodeAt(0) - 64;
  const rr = parseInt(m[2]) - 1;
  return rr >= 0 && rr < ROWS && cc - 1 < COLS ? [rr, cc - 1] : null;
}
function parseTSV(text) {
  if (QUIRKS.includes('naive_paste')) return text.split('\n').map(line => line.split('\t'));  // a careless editor
  // As Sheets reads pasted text: tabs between cells, newlines between rows, "..." quotes a cell
  // that holds tabs, newlines or quotes ("" inside is one quote).
  const rows = [[]]; let i = 0, field = '';
  text = text.replace(/\r\n?/g, '\n');
  while (i < text.length) {
    if (field === '' && text[i] === '"') {
      i++;
      while (i < text.length) {
        if (text[i] === '"' && text[i + 1] === '"') { field += '"'; i += 2; }
        else if (text[i] === '"') { i++; break; }
        else field += text[i++];
      }
      continue;
    }
    const ch = text[i++];
    if (ch === '\t') { rows[rows.length - 1].push(field); field = ''; }
    else if (ch === '\n') { rows[rows.length - 1].push(field); field = ''; rows.push([]); }
    else field += ch;
  }
  rows[rows.length - 1].push(field);
  if (text.endsWith('\n')) rows.pop();
  return rows;
}
nameBox.addEventListener('keydown', e => {
  if (e.key !== 'Enter') return; e.preventDefault();
  const [a, b, extra] = nameBox.value.split(':'); const p = parseRef(a || ''), q = b ? parseRef(b) : null;
  if (!p || (b && !q) || extra !== undefined) { nameBox.classList.add('invalid'); return; }
  nameBox.classList.remove('invalid'); commit(); runStart = null;
  if (q && QUIRKS.includes('range_jump_to_a1')) { move(0, 0, null); grid.focus(); return; }  // a careless editor
  move(p[0], p[1], q ? [Math.min(p[0], q[0]), Math.min(p[1], q[1]), Math.max(p[0], q[0]), Math.max(p[1], q[1])] : null);
  grid.focus();
});
grid.addEventListener('keydown', e => {
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z') {  // undo the last edit
    e.preventDefault(); commit(); const prev = undo.pop(); if (prev) save(prev, true); return;
  }
  if (e.ctrlKey && !e.altKey && e.key !== 'Enter' || e.metaKey) return;  // shortcuts: paste comes as an event
  if (e.key === 'Tab') { e.preventDefault(); commit(); if (runStart === null) runStart = c; move(r, c + 1, null); }
  else if (e.key === 'Enter' && (e.altKey || e.ctrlKey)) {
    e.preventDefault(); if (VIEW_ONLY) return; if (!editing) { editing = true; buffer = DATA[gid][key(r, c)] || ''; }
    buffer += '\n'; paint(r, c); boxes();
  }
  else if (e.key === 'Enter') { e.preventDefault(); commit(); const back = runStart; runStart = null; move(r + 1, back === null ? c : back, null); }
  else if (e.key === 'Escape') { editing = false; buffer = ''; paint(r, c); boxes(); }
  else if (e.key === 'Backspace' && editing) { e.preventDefault(); buffer = buffer.slice(0, -1); paint(r, c); boxes(); }
  else if (e.key === 'Delete' || e.key === 'Backspace') {
    e.preventDefault(); if (VIEW_ONLY) return; const s = rect(), cells = [];
    for (let rr = s[0]; rr <= s[2]; rr++) for (let cc = s[1]; cc <= s[3]; cc++) cells.push([rr, cc, '']);
    save(cells);
  }
  else if (e.key.length === 1 && !VIEW_ONLY) {
    e.preventDefault(); if (!editing) { editing = true; buffer = ''; if (sel) move(r, c, null); }
    buffer += e.key; paint(r, c); boxes();
  }
});
document.addEventListener('paste', e => {
  if (document.activeElement !== grid) return;
  e.preventDefault(); if (VIEW_ONLY) return;
  commit(); const rows = parseTSV(e.clipboardData.getData('text/plain')), cells = [];
  let width = 0;
  rows.forEach((row, i) => row.forEach((v, j) => {
    if (r + i < ROWS && c + j < COLS) cells.push([r + i, c + j, v]);
    width = Math.max(width, j + 1);
  }));
  save(cells);
  move(r, c, rows.length * width > 1 ? [r, c, Math.min(ROWS - 1, r + rows.length - 1), Math.min(COLS - 1, c + width - 1)] : null);
});
function activate(tab) {
  commit(); gid = Number(tab.dataset.gid); runStart = null;
  tabEls.forEach(t => { t.setAttribute('aria-selected', t === tab ? 'true' : 'false'); t.classList.toggle('docs-sheet-active-tab', t === tab); });
  history.replaceState(null, '', '#gid=' + gid);
  r = 0; c = 0; sel = null; paintRect([0, 0, ROWS - 1, COLS - 1]); boxes();
}
(function build() {
  const head = document.createElement('tr'); head.appendChild(document.createElement('th'));
  for (let cc = 0; cc < COLS; cc++) { const th = document.createElement('th'); th.textContent = colName(cc); head.appendChild(th); }
  grid.appendChild(head);
  for (let rr = 0; rr < ROWS; rr++) {
    const tr = document.createElement('tr'), th = document.createElement('th'); th.textContent = String(rr + 1);
    tr.appendChild(th); tds.push([]);
    for (let cc = 0; cc < COLS; cc++) {
      const td = document.createElement('td');
      td.addEventListener('click', () => { commit(); runStart = null; move(rr, cc, null); grid.focus(); });
      tr.appendChild(td); tds[rr].push(td);
    }
    grid.appendChild(tr);
  }
  tabEls.forEach(t => t.addEventListener('click', () => activate(t)));
  const wanted = /gid=(\d+)/.exec(location.hash);
  const first = tabEls.find(t => wanted && t.dataset.gid === wanted[1]) || tabEls[0];
  if (first) activate(first);
})();
window.pendingWrites = () => chain;
grid.focus();
