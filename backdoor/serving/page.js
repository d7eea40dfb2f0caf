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
    document.querySelectorAll('#sign-frame textarea:not([tabindex]), #sign-frame-drawn:not([tabindex])')
      .forEach((t) => t.setAttribute('tabindex', '-1'));  // written and clicked by the drag, not by a student
    document.querySelectorAll('.image-container > button:not([aria-label])').forEach((b) => {
      const block = b.closest('[id]');
      const names = {
        'sign-preview': 'The sign: click it to put the sticker there',
        'digit-input-view': 'What the models see: click a square to make that pixel white',
      };
      const name = (block && names[block.id]) || 'Enlarge this picture';
      b.setAttribute('aria-label', name);
    });
  };
  // Dragging a box on the enlarged sign frames it: the fractions go to #sign-frame, then a click on the hidden
  // #sign-frame-drawn classifies the framed sign. A click (no drag) still places the sticker.
  let drag = null;
  let band = null;
  let dragged = false;
  const imageBox = (img) => {  // the picture's own box inside the <img> (object-fit keeps its shape)
    const r = img.getBoundingClientRect();
    const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight, 1);
    const w = img.naturalWidth * s, h = img.naturalHeight * s;
    return {left: r.left + (r.width - w) / 2, top: r.top + (r.height - h) / 2, width: w, height: h};
  };
  document.addEventListener('pointerdown', (e) => {
    const img = e.target.closest && e.target.closest('#sign-preview img');
    if (!img || !img.naturalWidth || e.pointerType === 'touch') return;
    drag = {img, x: e.clientX, y: e.clientY};
    dragged = false;
    e.preventDefault();  // no native image drag
  }, true);
  document.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const [l, t] = [Math.min(drag.x, e.clientX), Math.min(drag.y, e.clientY)];
    const [w, h] = [Math.abs(e.clientX - drag.x), Math.abs(e.clientY - drag.y)];
    if (w < 12 && h < 12) return;
    band = band || document.body.appendChild(Object.assign(document.createElement('div'), {className: 'frame-band'}));
    Object.assign(band.style, {left: `${l}px`, top: `${t}px`, width: `${w}px`, height: `${h}px`});
  }, true);
  document.addEventListener('pointerup', (e) => {
    if (!drag) return;
    const {img, x, y} = drag;
    drag = null;
    if (band) { band.remove(); band = null; }
    if (Math.abs(e.clientX - x) < 12 && Math.abs(e.clientY - y) < 12) return;  // a click: the sticker
    dragged = true;
    const b = imageBox(img);
    if (Math.abs(e.clientX - x) < 0.02 * b.width || Math.abs(e.clientY - y) < 0.02 * b.height) return;  // a line
    const fx = (v) => Math.min(1, Math.max(0, (v - b.left) / b.width)).toFixed(4);
    const fy = (v) => Math.min(1, Math.max(0, (v - b.top) / b.height)).toFixed(4);
    const box = document.querySelector('#sign-frame textarea, #sign-frame input');
    const drawn = [fx(Math.min(x, e.clientX)), fy(Math.min(y, e.clientY)), fx(Math.max(x, e.clientX)),
      fy(Math.max(y, e.clientY))].map(Number);
    // The photo on show may be framed already: a new frame is drawn inside the old one.
    const old = box.value.split(',').map(Number);
    const [l, t, r, bt] = old.length === 4 && old.every((v) => !Number.isNaN(v)) ? old : [0, 0, 1, 1];
    box.value = [l + drawn[0] * (r - l), t + drawn[1] * (bt - t), l + drawn[2] * (r - l), t + drawn[3] * (bt - t)]
      .map((v) => v.toFixed(4)).join(',');
    box.dispatchEvent(new Event('input', {bubbles: true}));  // the Textbox takes the value
    // The Textbox's own input event does not fire for a value set here: the hidden button asks for the answer.
    setTimeout(() => document.querySelector('#sign-frame-drawn')?.click(), 0);
  }, true);
  document.addEventListener('click', (e) => {  // the click that ends a drag is no sticker click
    if (dragged && e.target.closest && e.target.closest('#sign-preview')) {
      dragged = false;
      e.stopImmediatePropagation();
      e.preventDefault();
    }
  }, true);
  // On a phone the examples fill the screen: after a pick, bring the photo and the answers into view (they sat
  // ~1,000 px below the example the student tapped).
  document.addEventListener('click', (e) => {
    if (window.innerWidth > 640 || !(e.target.closest && e.target.closest('#sign-examples button'))) return;
    setTimeout(() => document.querySelector('#sign-preview')?.scrollIntoView({block: 'start', behavior: 'smooth'}), 300);
  });
  // The same for a link that opens a sign (?example=...), as the static page does: once its photo is on show.
  if (window.innerWidth <= 640 && new URLSearchParams(location.search).has('example')) {
    const asked = performance.now();
    (function poll() {
      const photo = document.querySelector('#sign-preview img');
      if (photo) return photo.scrollIntoView({block: 'start', behavior: 'smooth'});
      if (performance.now() - asked < 30000) setTimeout(poll, 100);
    })();
  }
  // The live camera (#sign-camera, #sign-freeze): Gradio's webcam (#sign-webcam) needs a click to get access and
  // another on its own button to stream; these do both, stop the camera's light when the camera stops, and return
  // what happened ("started", "live", "frozen", "stopped", "error:<the browser's error name>") for the status line.
  const webcam = () => document.querySelector('#sign-webcam');
  const video = () => webcam()?.querySelector('video');
  const waitFor = (selector, ms) => new Promise((resolve) => {
    const started = performance.now();
    (function poll() {
      const found = webcam()?.querySelector(selector);
      if (found || performance.now() - started > ms) return resolve(found);
      setTimeout(poll, 50);
    })();
  });
  const streaming = (button) => !!button.querySelector('[title="stop recording"], [title="spinner"]');
  const live = () => (video()?.srcObject?.getTracks() || []).some((t) => t.readyState === 'live');
  const setOn = (on) => document.body.classList.toggle('camera-on', on);
  const sizeReticle = () => {  // the square the models see: 3/4 of the shorter side of the picture on show
    const v = video();
    if (!v || !v.videoWidth) return;
    const s = Math.min(v.clientWidth / v.videoWidth, v.clientHeight / v.videoHeight);  // object-fit: contain
    v.parentElement.style.setProperty('--reticle', `${0.75 * Math.min(v.videoWidth, v.videoHeight) * s}px`);
  };
  new ResizeObserver(sizeReticle).observe(document.body);
  let toggling = null;  // a second click while the camera starts (or its permission prompt is open) waits for it
  window.labCamera = {
    toggle() {
      toggling = toggling || window.labCamera.switch().finally(() => { toggling = null; });
      return toggling;
    },
    async switch() {
      const root = webcam();
      if (!root) return 'error:other';
      let button = root.querySelector('button.capture-button');
      if (document.body.classList.contains('camera-on')) return window.labCamera.stop();
      if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) return 'error:insecure';
      if (!button) {  // first time: Gradio asks for access; its getUserMedia failure is an unhandled rejection
        const grant = root.querySelector('[title="grant webcam access"] button');
        if (!grant) return 'error:other';
        const failed = new Promise((resolve) => {
          const heard = (e) => { window.removeEventListener('unhandledrejection', heard); resolve(e.reason); };
          window.addEventListener('unhandledrejection', heard);
          setTimeout(() => { window.removeEventListener('unhandledrejection', heard); resolve(null); }, 60000);
        });
        grant.click();
        // a minute: a student may take a while over the browser's permission prompt
        const got = await Promise.race([waitFor('button.capture-button', 60000).then((b) => ({b})), failed.then((r) => ({r}))]);
        if (!got.b) return `error:${got.r?.name || 'other'}`;
        button = got.b;
      } else if (!live()) {  // stopped before: its tracks were ended, so ask again for the same camera
        try {
          video().srcObject = await navigator.mediaDevices.getUserMedia({video: {facingMode: {ideal: 'environment'}, width: {ideal: 640}, height: {ideal: 480}}});
          await video().play();
        } catch (err) {
          return `error:${err.name || 'other'}`;
        }
      }
      await new Promise((resolve) => (video().videoWidth ? resolve() : video().addEventListener('loadeddata', resolve, {once: true})));
      setOn(true);
      sizeReticle();
      if (window.innerWidth <= 640) root.scrollIntoView({block: 'start', behavior: 'smooth'});  // a phone: the picture
      if (!streaming(button)) button.click();
      return 'started';
    },
    async freeze() {  // the picture stops; the stream goes on sending it, so the sticker box still answers
      if (!video() || !document.body.classList.contains('camera-on')) return 'stopped';
      if (!video().paused) {
        video().pause();
        return 'frozen';
      }
      await video().play();
      return 'live';
    },
    stop() {
      const button = webcam()?.querySelector('button.capture-button');
      if (button && streaming(button)) button.click();
      (video()?.srcObject?.getTracks() || []).forEach((t) => t.stop());  // the camera's light goes off
      setOn(false);
      return 'stopped';
    },
  };
  // A photo or an example while the camera runs: the camera stops first (its frames would answer over the photo's).
  document.addEventListener('pointerdown', (e) => {
    if (!document.body.classList.contains('camera-on') || !e.target.closest) return;
    if (e.target.closest('#sign-examples, #sign-image')) document.querySelector('#sign-camera')?.click();
  }, true);
  new MutationObserver(() => { brush(); names(); fixAria(); }).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['class', 'aria-label', 'alt'],
  });
  brush();
  names();
  fixAria();
  // ?details=1 opens the page with every detail shown: it ticks the "Show details" box once it is there.
  if (new URLSearchParams(location.search).get('details') === '1') {
    const tick = setInterval(() => {
      const box = document.querySelector('#show-details input');
      if (!box) return;
      clearInterval(tick);
      if (!box.checked) box.click();
    }, 100);
  }
}
