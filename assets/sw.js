// PyTake's service worker: the app installs and opens like an app, its static files come
// from the cache, and a page asked for while the server is unreachable is the offline page
// (which comes back by itself). Live traffic is never touched: events, webhooks, uploads,
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
