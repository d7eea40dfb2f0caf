// The live camera: start and stop it, cut the reticle's square out of a frame, and say in one line why it cannot
// start. Nothing leaves the browser: frames go from the <video> to a canvas to the models, on this page.

/** inference.camera_box: the square the models see, [left, top, side] in frame pixels: the middle of the frame,
 * `square` (lab.json's cameraSquare, 3/4) of its shorter side. */
export function cameraBox(width, height, square) {
  const side = Math.max(1, Math.round(square * Math.min(width, height)));
  return [Math.floor((width - side) / 2), Math.floor((height - side) / 2), side];
}

/** lab.camera_problem: one line for a camera that cannot start (absent, denied, busy, or a page that is not a
 * secure origin), from lab.json's `cameraProblems` by the error's name and its `prompts.cameraProblem`. */
export function cameraMessage(err, problems, line) {
  return line.replace("{reason}", problems[err?.name] ?? problems.other);
}

/** The rear camera where there is one (a phone held up to a sign), else any camera. */
export async function startCamera(video) {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    throw Object.assign(new Error("insecure origin"), { name: "insecure" });
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: "environment" }, width: { ideal: 640 }, height: { ideal: 480 } },
    audio: false,
  });
  try {
    video.srcObject = stream;
    await video.play();
    if (!video.videoWidth) await new Promise((resolve) => video.addEventListener("loadeddata", resolve, { once: true }));
  } catch (err) {
    stopCamera(video, stream); // no light left on for a camera that never showed
    throw err;
  }
  return stream;
}

export function stopCamera(video, stream) {
  stream?.getTracks().forEach((track) => track.stop());
  video.srcObject = null;
}

/** Draw the frame on `still` (`previewSide` on its longer side, kept for the preview and for a freeze) and return
 * the reticle's square of it as { rgb, width, height } for signInput. */
export function grabSquare(video, still, previewSide, square) {
  const scale = previewSide / Math.max(video.videoWidth, video.videoHeight);
  still.width = Math.max(1, Math.round(video.videoWidth * scale));
  still.height = Math.max(1, Math.round(video.videoHeight * scale));
  const context = still.getContext("2d", { willReadFrequently: true });
  context.drawImage(video, 0, 0, still.width, still.height);
  const [left, top, side] = cameraBox(still.width, still.height, square);
  const rgba = context.getImageData(left, top, side, side).data;
  const rgb = new Uint8ClampedArray(side * side * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  return { rgb, width: side, height: side };
}
