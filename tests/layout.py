"""What a phone's screen shows wrong, checked in the page itself: for the browser tests of both editions.

A teacher's walk-through on a 390 px phone found answers cut on both sides, a label running into its number
("91.88%87.82%"), maps spilling out of their boxes and a table running off the screen. `layout_faults` lists each
such fault on the page as it is now.
"""

from __future__ import annotations

FAULTS = """(width) => {
  const out = [];
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.closest('[id]') ? ' in #' + e.closest('[id]').id : '');
  const shown = (e) => {
    const r = e.getBoundingClientRect();
    const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.opacity !== '0' && !e.closest('.sr-only, .offscreen');
  };
  // Inside a box that scrolls sideways and itself fits, content may be wider: the student scrolls that box
  const scrolls = (e) => {
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a);
      // (or clips it: Gradio keeps the tabs that do not fit behind a "..." menu)
      if (['auto', 'scroll', 'hidden', 'clip'].includes(s.overflowX) && a.getBoundingClientRect().right <= width + 1) return true;
    }
    return false;
  };
  for (const e of document.querySelectorAll('body *')) {
    if (!shown(e) || ['svg', 'path', 'g', 'line', 'rect', 'text', 'circle', 'polyline'].includes(e.tagName.toLowerCase())) continue;
    const r = e.getBoundingClientRect();
    if (r.right > width + 1 && !scrolls(e)) out.push(`wider than the screen: ${name(e)} (right edge ${Math.round(r.right)} px)`);
    const text = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const s = getComputedStyle(e);
    // Text wider than its own box is cut off by it, or by a box around it (Gradio's answer panels clip).
    if (text && s.display !== 'inline' && e.scrollWidth > e.clientWidth + 1) {
      out.push(`text cut off: ${name(e)} "${e.textContent.trim().slice(0, 40)}"`);
    }
    // A caption outside the nearest box that hides its overflow: under a gallery's fixed height.
    const caption = e.matches('.caption-label, figcaption');
    for (let a = e.parentElement; caption && a && a !== document.body; a = a.parentElement) {
      const o = getComputedStyle(a);
      if (!['hidden', 'clip'].includes(o.overflowY) && !['hidden', 'clip'].includes(o.overflowX)) continue;
      const box = a.getBoundingClientRect();
      if (r.bottom > box.bottom + 1 || r.top < box.top - 1 || r.right > box.right + 1 || r.left < box.left - 1) {
        out.push(`text hidden by its box: ${name(e)} "${e.textContent.trim().slice(0, 40)}"`);
      }
      break;
    }
  }
  for (const row of document.querySelectorAll('body *')) {  // a label running into its number, side by side
    if (!['flex', 'inline-flex', 'grid', 'table-row'].includes(getComputedStyle(row).display) || !shown(row)) continue;
    // A turned arrow's box is not where it is drawn; a floating toolbar overlays the canvas by design.
    const flat = (k) => getComputedStyle(k).transform === 'none' && !['absolute', 'fixed'].includes(getComputedStyle(k).position);
    const boxes = [...row.children].filter((k) => shown(k) && flat(k)).map((k) => k.getBoundingClientRect());
    for (let i = 1; i < boxes.length; i++) {
      const [a, b] = [boxes[i - 1], boxes[i]];
      if (b.left < a.right - 1 && b.top < a.bottom - 1 && a.top < b.bottom - 1) out.push(`overlapping text: ${name(row)} "${row.textContent.trim().slice(0, 40)}"`);
    }
  }
  return [...new Set(out)];
}"""


def layout_faults(page, width: int = 390) -> list[str]:
    """Each element wider than a `width`-px screen (outside a box that scrolls), each text cut off by its box, and
    each row whose texts overlap, on the page as it is now."""
    return page.evaluate(FAULTS, width)
