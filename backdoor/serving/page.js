() => {
  // The Sketchpad falls back to its "image" tool whenever the canvas is empty (on load, after Clear);
  // a Sketchpad has no button for that tool, so no tool is lit and the first stroke draws nothing.
  // Whenever no tool is lit, select the brush (its aria-label is translated, hence the fallback).
  const brush = () => {
    for (const half of document.querySelectorAll('#digit-canvas .toolbar-wrap .half-container:first-child')) {
      const tools = [...half.querySelectorAll(':scope > button')];
      if (!tools.length || tools.some((b) => b.classList.contains('highlight'))) continue;
      (half.querySelector(':scope > button[aria-label="Brush"]') || tools[0]).click();
    }
  };
  // Gallery thumbnails are announced as "Thumbnail i of n": name each after its caption.
  const names = () => {
    document.querySelectorAll('button.thumbnail-item').forEach((b) => {
      const alt = b.querySelector('img')?.getAttribute('alt');
      if (alt && b.getAttribute('aria-label') !== alt) b.setAttribute('aria-label', alt);
    });
  };
  // Gradio's empty panels carry an aria-label on a plain div, and its clickable pictures are buttons
  // without a name: give both what a screen reader needs (axe-core: aria-prohibited-attr, button-name).
  const fixAria = () => {
    document.querySelectorAll('div[aria-label="Empty value"]:not([role])').forEach((d) => d.setAttribute('role', 'img'));
    document.querySelectorAll('.image-container > button:not([aria-label])').forEach((b) => {
      const block = b.closest('[id]');
      const name = block && block.id === 'sign-preview' ? 'The sign: click it to put the sticker there' : 'Enlarge this picture';
      b.setAttribute('aria-label', name);
    });
  };
  new MutationObserver(() => { brush(); names(); fixAria(); }).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['class', 'aria-label', 'alt'],
  });
  brush();
  names();
  fixAria();
  // ?details=1 opens the page with every detail shown, as the "Show details" box does.
  if (new URLSearchParams(location.search).get('details') === '1') document.body.classList.add('lab-details');
}
