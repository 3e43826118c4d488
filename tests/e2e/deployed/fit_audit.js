// The fit audit of tests/e2e/deployed/test_phones.py, run in the page.
// Takes [root selector, phone?]; returns plain-sentence problems, each naming the element.
// - the document is no wider than the viewport (root "body" only);
// - every visible action under root lies inside the viewport horizontally and is what a press
//   at its centre (its first line's, for a link that wraps) lands on;
// - every table in main sits in a .table-wrap and, on a phone, stacks: each cell is a block
//   showing its column's heading from data-label; on a desktop its rows stay table rows.
([rootSelector, phone]) => {
  const doc = document.documentElement, vw = doc.clientWidth, problems = new Set();
  const root = document.querySelector(rootSelector);
  const words = (el) => (el.innerText || el.value || el.getAttribute('aria-label') || el.name || '')
    .trim().replace(/\s+/g, ' ').slice(0, 60);
  const describe = (el) => `${el.tagName.toLowerCase()} "${words(el)}"`;
  if (rootSelector === 'body' && doc.scrollWidth > vw)
    problems.add(`the page is ${doc.scrollWidth} px wide in a ${vw} px viewport`
      + ' (it scrolls sideways)');
  const actions = [...root.querySelectorAll(
      'a[href], button, summary, select, input:not([type=hidden]), textarea')]
    .filter((el) => !el.closest('.visually-hidden, .skip-link')
      && el.checkVisibility({visibilityProperty: true, opacityProperty: true}));
  for (const el of actions) {
    let r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.left < -0.5 || r.right > vw + 0.5) {
      problems.add(`${describe(el)} spans x ${Math.round(r.left)}..${Math.round(r.right)}, `
        + `outside the ${vw} px viewport`);
      continue;
    }
    window.scrollTo(0, window.scrollY + r.top + r.height / 2 - window.innerHeight / 2);
    r = el.getClientRects()[0];  // a link that wraps: its first line
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const hit = document.elementFromPoint(x, y);
    const labels = [...(el.labels || [])];
    if (!hit || !(el === hit || el.contains(hit) || labels.some((l) => l.contains(hit))))
      problems.add(`${describe(el)} cannot be pressed: ${hit ? describe(hit) : 'nothing'} `
        + `is at its centre (${Math.round(x)}, ${Math.round(y)})`);
  }
  window.scrollTo(0, 0);
  if (rootSelector !== 'body') return [...problems];
  document.querySelectorAll('main table').forEach((table, index) => {
    const name = `table ${index + 1}${table.className ? ' (' + table.className + ')' : ''}`;
    if (!table.closest('.table-wrap'))
      problems.add(`${name} is not inside a .table-wrap, so it does not stack on phones`);
    const columns = [];
    for (const th of table.querySelectorAll('thead th')) {
      const shown = th.cloneNode(true);
      shown.querySelectorAll('.visually-hidden').forEach((n) => n.remove());
      const heading = shown.textContent.trim() ? th.textContent.trim().replace(/\s+/g, ' ') : '';
      for (let i = 0; i < th.colSpan; i++) columns.push(heading);
    }
    const head = table.querySelector('thead');
    if (!phone && head && head.getBoundingClientRect().height < 2)
      problems.add(`${name}: its column headings are hidden at desktop width`);
    for (const row of table.querySelectorAll('tbody tr')) {
      if (!phone) {
        const display = getComputedStyle(row).display;
        if (display !== 'table-row') problems.add(`${name}: a row is not a table row (${display})`);
        continue;
      }
      let column = 0;
      for (const td of row.children) {
        const heading = columns[column] || '';
        column += td.colSpan || 1;
        const display = getComputedStyle(td).display;
        const cell = heading ? `the "${heading}" cell` : 'an unlabelled cell';
        if (display !== 'block' && display !== 'flow-root')
          problems.add(`${name}: ${cell} does not stack (display: ${display})`);
        if (!heading) continue;
        if (td.dataset.label !== heading)
          problems.add(`${name}: ${cell} has data-label ${JSON.stringify(td.dataset.label ?? null)}`);
        else if (getComputedStyle(td, '::before').content !== JSON.stringify(heading))
          problems.add(`${name}: ${cell} does not show its label`);
      }
    }
  });
  return [...problems];
}
