// PyTake's service worker: the app installs and opens like an app, its static files come
// from the cache, and a page asked for while the server is unreachable is the offline page
// (which comes back by itself). Pushes become notifications that open their conversation.
// Live traffic is never touched: events, webhooks, uploads,
// sign-in, message files, health checks and the sandbox's Graph API go straight out.
const CACHE = "pytake-v1";
const OFFLINE = "/offline";
const PRECACHE = [OFFLINE, "/manifest.json", "/favicon.svg", "/icons/icon-192.png", "/icons/icon-512.png"];
const NEVER = /^\/(_event|_upload|webhooks|auth|media|healthz|sandbox\/graph|ping|_health)(\/|$)/;
const STATIC = /^\/(assets|icons)\/|\.(js|css|svg|png|woff2?)$/;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || NEVER.test(url.pathname)) return;
  if (request.mode === "navigate") {
    // Network first: pages are always the server's; without it, the offline page.
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE)));
    return;
  }
  if (STATIC.test(url.pathname)) {
    // Built files carry their hash in their name: the cached copy is served, and refreshed.
    event.respondWith(
      caches.open(CACHE).then((cache) =>
        cache.match(request).then((cached) => {
          const fresh = fetch(request)
            .then((response) => {
              if (response.ok) cache.put(request, response.clone());
              return response;
            })
            .catch(() => cached);
          return cached || fresh;
        })
      )
    );
  }
});

// Web Push (pytake/webpush.py): {title, body, url, tag}, one notification per conversation.
self.addEventListener("push", (event) => {
  let notice = {};
  try {
    notice = event.data ? event.data.json() : {};
  } catch (error) {
    notice = { body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(
    self.registration.showNotification(notice.title || "PyTake", {
      body: notice.body || "",
      tag: notice.tag || "pytake",
      renotify: true,
      icon: "/icons/icon-192.png",
      badge: "/icons/icon-192.png",
      data: { url: notice.url || "/inbox" },
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/inbox", self.location.origin);
  if (url.origin !== self.location.origin) return; // only our own pages open
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(async (windows) => {
      const open = windows.find((client) => new URL(client.url).origin === url.origin);
      const shown = open && (await open.navigate(url.href).catch(() => null));
      if (!shown) return self.clients.openWindow(url.href);
      return shown.focus().catch(() => {}); // focusing needs the click's user activation
    })
  );
});
