// Model-in-the-loop item creation: write / draw / record an item, ask the suite (the prediction API),
// claim a label and submit it (one created item = one test-set submission). Audio is recorded with
// WebAudio and encoded here as 16-bit mono WAV at 16 kHz, so the server always receives a WAV.
(function () {
  const root = document.getElementById("create");
  if (!root) return;
  const kind = root.dataset.kind;
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const askButton = document.getElementById("create-ask");
  const askStatus = document.getElementById("create-ask-status");
  const answers = document.getElementById("create-answers");
  const predBody = document.querySelector("#create-predictions tbody");
  const majorityEl = document.getElementById("create-majority");
  const labelSelect = document.getElementById("create-label");
  const verdictEl = document.getElementById("create-verdict");
  const submitButton = document.getElementById("create-submit");
  const statusEl = document.getElementById("create-status");
  const fileInput = document.getElementById("create-file");
  const VERIFICATION_TEXT = { pending: "pending", correct: "verified correct", incorrect: "judged incorrect", flagged: "flagged" };
  let lastAnswer = null;          // the suite's answer to the item as it is now
  let uploaded = null;            // data: URL of an uploaded file (replaces the drawing / recording)
  let recorded = null;            // data: URL of the last recording

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function changed() {            // the item changed: the old answer no longer applies
    lastAnswer = null;
    answers.hidden = true;
    verdictEl.textContent = "";
  }

  // --- drawing (pointer events: mouse, pen and touch) ---------------------------------------------
  const canvas = document.getElementById("create-canvas");
  let drawn = false;
  if (canvas) {
    const ctx = canvas.getContext("2d");
    function blank() {
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      drawn = false;
    }
    blank();
    ctx.lineWidth = 18;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#000";
    let drawing = false;
    function point(event) {
      const box = canvas.getBoundingClientRect();
      return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
    }
    canvas.addEventListener("pointerdown", function (event) {
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      const [x, y] = point(event);
      ctx.beginPath();
      ctx.moveTo(x, y);
      ctx.lineTo(x + 0.1, y);
      ctx.stroke();
      drawn = true;
      uploaded = null;
      changed();
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) return;
      const [x, y] = point(event);
      ctx.lineTo(x, y);
      ctx.stroke();
      event.preventDefault();
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) {
      canvas.addEventListener(name, function () { drawing = false; });
    });
    canvas.style.touchAction = "none";
    document.getElementById("create-clear").addEventListener("click", function () {
      blank();
      uploaded = null;
      if (fileInput) fileInput.value = "";
      const preview = document.getElementById("create-upload-preview");
      if (preview) preview.hidden = true;
      changed();
    });
  }

  // --- recording: WebAudio samples -> 16 kHz 16-bit mono WAV ---------------------------------------
  const recordButton = document.getElementById("create-record");
  const stopButton = document.getElementById("create-stop");
  const player = document.getElementById("create-player");
  const audioInfo = document.getElementById("create-audio-info");
  const MAX_SECONDS = 2;
  let recording = null;

  function resample(samples, fromRate, toRate) {
    if (fromRate === toRate) return samples;
    const out = new Float32Array(Math.floor(samples.length * toRate / fromRate));
    const step = fromRate / toRate;
    for (let i = 0; i < out.length; i++) {      // average the source samples each output sample covers
      const start = Math.floor(i * step), end = Math.min(samples.length, Math.floor((i + 1) * step));
      let sum = 0;
      for (let j = start; j < end; j++) sum += samples[j];
      out[i] = end > start ? sum / (end - start) : samples[start] || 0;
    }
    return out;
  }

  function wavBytes(samples, rate) {
    const buffer = new ArrayBuffer(44 + samples.length * 2);
    const view = new DataView(buffer);
    function text(offset, s) { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); }
    text(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE");
    text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
    view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true); view.setUint16(34, 16, true);
    text(36, "data"); view.setUint32(40, samples.length * 2, true);
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    return new Uint8Array(buffer);
  }

  function dataUrl(bytes, type) {
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return "data:" + type + ";base64," + btoa(binary);
  }

  async function startRecording() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      audioInfo.textContent = "This browser cannot record; upload a WAV instead.";
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      audioInfo.textContent = "No microphone (" + error.name + "); upload a WAV instead.";
      return;
    }
    const context = new (window.AudioContext || window.webkitAudioContext)();
    const source = context.createMediaStreamSource(stream);
    const processor = context.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    processor.onaudioprocess = function (event) { chunks.push(new Float32Array(event.inputBuffer.getChannelData(0))); };
    source.connect(processor);
    processor.connect(context.destination);
    recording = { stream, context, source, processor, chunks, timer: setTimeout(stopRecording, MAX_SECONDS * 1000) };
    recordButton.disabled = true;
    stopButton.disabled = false;
    audioInfo.textContent = "Recording…";
    uploaded = null;
    changed();
  }

  function stopRecording() {
    if (!recording) return;
    const { stream, context, source, processor, chunks, timer } = recording;
    recording = null;
    clearTimeout(timer);
    source.disconnect();
    processor.disconnect();
    stream.getTracks().forEach(function (track) { track.stop(); });
    const length = chunks.reduce(function (n, c) { return n + c.length; }, 0);
    const samples = new Float32Array(length);
    let offset = 0;
    chunks.forEach(function (c) { samples.set(c, offset); offset += c.length; });
    const rate = context.sampleRate;
    context.close();
    const wav = wavBytes(resample(samples, rate, 16000), 16000);
    recorded = dataUrl(wav, "audio/wav");
    player.src = recorded;
    player.hidden = false;
    audioInfo.textContent = "Recorded " + (length / rate).toFixed(1) + " s (sent as a 16 kHz WAV, " + Math.round(wav.length / 1024) + " KiB).";
    recordButton.disabled = false;
    stopButton.disabled = true;
    changed();
  }

  if (recordButton) {
    recordButton.addEventListener("click", startRecording);
    stopButton.addEventListener("click", stopRecording);
  }

  if (fileInput) {
    fileInput.addEventListener("change", function () {
      const file = fileInput.files[0];
      if (!file) { uploaded = null; changed(); return; }
      const reader = new FileReader();
      reader.onload = function () {
        uploaded = reader.result;
        if (kind === "audio") { player.src = uploaded; player.hidden = false; audioInfo.textContent = "Uploaded " + file.name + "."; }
        const preview = document.getElementById("create-upload-preview");
        if (preview) { preview.src = uploaded; preview.hidden = false; }
        changed();
      };
      reader.readAsDataURL(file);
    });
  }

  // --- the raw item as the APIs take it -------------------------------------------------------------
  function rawItem() {
    if (kind === "text") {
      const text = document.getElementById("create-text").value;
      if (!text.trim()) throw new Error("Write something first.");
      return { text: text };
    }
    if (kind === "image") {
      if (uploaded) return { image: uploaded };
      if (!drawn) throw new Error("Draw something (or upload a picture) first.");
      return { image: canvas.toDataURL("image/png") };
    }
    const audio = uploaded || recorded;
    if (!audio) throw new Error("Record a clip (or upload a WAV) first.");
    return { audio: audio };
  }
  if (kind === "text") document.getElementById("create-text").addEventListener("input", changed);

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { /* a proxy's HTML error page */ }
    if (!response.ok) {
      const errors = data.errors ? Object.values(data.errors).flat().join(" ") : "";
      const error = new Error(errors || data.detail || ("the server answered " + response.status));
      error.retryAfter = response.status === 503 ? parseInt(response.headers.get("Retry-After") || "", 10) : NaN;
      throw error;
    }
    return data;
  }

  // The models are still being trained for new data (503 + Retry-After): ask again by itself, a few times.
  async function postPatiently(url, body, statusNode) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await post(url, body);
      } catch (error) {
        if (!(error.retryAfter > 0) || attempt >= 4) throw error;
        const wait = Math.min(error.retryAfter, 30);
        statusNode.textContent = error.message + " Asking again in " + wait + " s…";
        await new Promise(function (resolve) { setTimeout(resolve, wait * 1000); });
      }
    }
  }

  function showVerdict() {
    const label = labelSelect.value;
    verdictEl.className = "";
    if (!lastAnswer || !label) { verdictEl.textContent = ""; return; }
    const wrong = lastAnswer.predictions.filter(function (p) { return p.label !== label; }).length;
    const fooled = 2 * wrong > lastAnswer.predictions.length;
    verdictEl.textContent = fooled
      ? "You fooled the models: " + wrong + " of " + lastAnswer.predictions.length + " answer something other than " + label + ". Submit it for verification."
      : "Not fooled: only " + wrong + " of " + lastAnswer.predictions.length + " models answer something other than " + label + ". You may still submit it, but it can only earn credit if most models get it wrong.";
    verdictEl.className = fooled ? "status-correct" : "muted";
    verdictEl.dataset.fooled = fooled ? "yes" : "no";
  }
  labelSelect.addEventListener("change", showVerdict);

  askButton.addEventListener("click", async function () {
    let body;
    try { body = rawItem(); } catch (error) { askStatus.textContent = error.message; return; }
    askButton.disabled = true;
    askStatus.textContent = "Asking the models…";
    const started = performance.now();
    try {
      const data = await postPatiently(root.dataset.predictUrl, body, askStatus);
      lastAnswer = data;
      predBody.replaceChildren();
      data.predictions.forEach(function (p) {
        const row = el("tr");
        row.appendChild(el("td", p.model));
        row.appendChild(el("td", p.label));
        row.appendChild(el("td", (100 * p.confidence).toFixed(0) + "%"));
        predBody.appendChild(row);
      });
      majorityEl.textContent = "Most models say: " + data.majority;
      answers.hidden = false;
      askStatus.textContent = "Answered in " + Math.round(performance.now() - started) + " ms.";
      showVerdict();
    } catch (error) {
      askStatus.textContent = error.message;
    } finally {
      askButton.disabled = false;
    }
  });

  if (submitButton) {
    submitButton.addEventListener("click", async function () {
      let body;
      try { body = rawItem(); } catch (error) { statusEl.textContent = error.message; return; }
      if (!labelSelect.value) { statusEl.textContent = "Choose the label you say is correct first."; return; }
      body.label = labelSelect.value;
      body.description = document.getElementById("create-description").value;
      submitButton.disabled = true;
      statusEl.textContent = "Submitting…";
      try {
        const data = await postPatiently(root.dataset.createUrl, body, statusEl);
        statusEl.replaceChildren();
        statusEl.append("Submitted " + data.item.item_id + " as ");
        const link = el("a", "submission " + data.submission.id);
        link.href = data.item.submission_url;
        statusEl.appendChild(link);
        statusEl.append("; the models' answers are checked again by the worker.");
        loadCreated();
      } catch (error) {
        statusEl.textContent = error.message;
      } finally {
        submitButton.disabled = false;
      }
    });
  }

  // --- my created items -------------------------------------------------------------------------------
  const createdBody = document.querySelector("#created tbody");
  async function loadCreated() {
    const response = await fetch(root.dataset.createdUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } });
    if (!response.ok) return;
    const data = await response.json();
    createdBody.replaceChildren();
    if (!data.items.length) {
      const row = el("tr");
      const cell = el("td", "None yet.", "muted");
      cell.colSpan = 5;
      row.appendChild(cell);
      createdBody.appendChild(row);
    }
    data.items.forEach(function (item) {
      const row = el("tr");
      row.dataset.item = item.item_id;
      const first = el("td");
      const open = el("a", item.item_id);
      open.href = item.raw_url;
      first.appendChild(open);
      if (item.text) first.appendChild(el("div", item.text.length > 80 ? item.text.slice(0, 80) + "…" : item.text, "muted"));
      row.appendChild(first);
      row.appendChild(el("td", item.label));
      row.appendChild(el("td", item.live.fooled === true ? "yes" : item.live.fooled === false ? "no" : "–"));
      const sub = el("td");
      if (item.submission_url) {
        const a = el("a", "#" + item.submission_id + " " + item.submission_status);
        a.href = item.submission_url;
        sub.appendChild(a);
      }
      row.appendChild(sub);
      const status = item.status ? VERIFICATION_TEXT[item.status] + (item.status === "pending" ? " (" + item.votes + " vote(s))" : "") : "not queued yet";
      row.appendChild(el("td", status, item.status ? "status-" + item.status : "muted"));
      createdBody.appendChild(row);
    });
  }
  loadCreated();
  setInterval(loadCreated, 10000);
})();
