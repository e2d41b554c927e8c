// <time datetime="...Z" data-local> elements (rendered in UTC by the server, readable without JS) are
// rewritten in the viewer's time zone; data-countdown adds the time left ("in 3 d 4 h") and keeps it current.
(function () {
  const items = Array.from(document.querySelectorAll("time[datetime][data-local]"));
  if (!items.length) return;
  const format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });

  function left(ms) {
    const past = ms < 0;
    let s = Math.floor(Math.abs(ms) / 1000);
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const text = d > 0 ? `${d} d ${h} h` : h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s} s` : `${s} s`;
    return past ? `${text} ago` : `in ${text}`;
  }

  function update() {
    const now = Date.now();
    for (const el of items) {
      const at = new Date(el.getAttribute("datetime"));
      if (isNaN(at)) continue;
      if (!el.title) el.title = el.textContent.trim();  // the UTC time stays available as a tooltip
      let text = format.format(at);
      if (el.hasAttribute("data-countdown")) text += ` (${left(at.getTime() - now)})`;
      el.textContent = text;
    }
  }
  update();
  if (items.some((el) => el.hasAttribute("data-countdown"))) setInterval(update, 1000);
})();
