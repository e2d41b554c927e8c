// Pushed live updates (Server-Sent Events, backend/live): DataperfLive.follow(streamUrl, eventName,
// refresh, pollMs) calls refresh() when the server says something changed. The event carries no data:
// refresh() re-reads the page's usual API. While the stream is not open (server without ASGI, network
// trouble, no EventSource) it polls refresh() every pollMs instead, and retries the stream with backoff.
// refresh() may return true ("nothing more will change"): following stops. At most one refresh runs at a
// time, at most one per minGapMs (default 1 s); pages sharing a stream URL share one connection.
(function () {
  const streams = {};

  function open(url) {
    const stream = { url, names: new Set(), followers: new Set(), source: null, backoff: 5000, retryTimer: null };
    const dispatch = (name) => stream.followers.forEach((f) => { if (f.name === name) f.changed(); });
    stream.listen = (name) => {
      if (stream.names.has(name)) return;
      stream.names.add(name);
      if (stream.source) stream.source.addEventListener(name, () => dispatch(name));
    };
    stream.connect = () => {
      stream.retryTimer = null;
      if (stream.followers.size === 0) return;
      const source = new EventSource(url, { withCredentials: true });
      stream.source = source;
      stream.names.forEach((name) => source.addEventListener(name, () => dispatch(name)));
      source.onopen = () => { stream.backoff = 5000; stream.followers.forEach((f) => f.streaming(true)); };
      source.onerror = () => {
        stream.followers.forEach((f) => f.streaming(false));
        if (source.readyState === EventSource.CLOSED) {  // refused (e.g. 503): poll, try the stream later
          stream.source = null;
          stream.retryTimer = setTimeout(stream.connect, stream.backoff);
          stream.backoff = Math.min(stream.backoff * 2, 300000);
        }  // else the browser reconnects by itself (after the server's retry hint)
      };
    };
    stream.close = () => {
      if (stream.source) stream.source.close();
      clearTimeout(stream.retryTimer);
      delete streams[url];
    };
    return stream;
  }

  function follow(url, name, refresh, pollMs, minGapMs = 1000) {
    let running = false, again = false, stopped = false, last = 0, pollTimer = null, gapTimer = null;
    const follower = { name };

    function stop() {
      stopped = true;
      clearTimeout(pollTimer);
      clearTimeout(gapTimer);
      const stream = url && streams[url];
      if (stream) {
        stream.followers.delete(follower);
        if (stream.followers.size === 0) stream.close();
      }
    }

    async function run() {
      if (stopped) return;
      if (running) { again = true; return; }
      const wait = last + minGapMs - Date.now();
      if (wait > 0) { clearTimeout(gapTimer); gapTimer = setTimeout(run, wait); return; }
      running = true;
      last = Date.now();
      let finished = false;
      try { finished = (await refresh()) === true; } catch (error) { /* a failed refresh: the next event or poll retries */ }
      running = false;
      if (finished) { stop(); return; }
      if (again) { again = false; run(); }
    }

    function poll() {
      clearTimeout(pollTimer);
      pollTimer = setTimeout(async () => { await run(); if (!stopped && pollTimer !== null) poll(); }, pollMs);
    }

    follower.changed = run;
    follower.streaming = (open) => {
      if (open) { clearTimeout(pollTimer); pollTimer = null; } else if (pollTimer === null && !stopped) poll();
    };

    if (!url || !window.EventSource) { poll(); return { stop }; }
    let stream = streams[url];
    const fresh = !stream;
    if (fresh) stream = streams[url] = open(url);
    stream.followers.add(follower);
    stream.listen(name);
    if (fresh) stream.connect();
    else if (!stream.source || stream.source.readyState !== EventSource.OPEN) poll();
    return { stop };
  }

  window.DataperfLive = { follow };
})();
