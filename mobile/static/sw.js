// Keeps the reporter's pages and assets on the phone so a report can be written offline.
// Never touches the API, the reporter's own report page or anything but a GET.
"use strict";
const ASSETS = [__ASSETS__];
const PAGES = ["/", "/report", "/danger", "/receipt"];
// The asset URLs carry content hashes: a new release gets a new cache.
const CACHE = "portline-" + [...ASSETS.join()].reduce((hash, char) => (hash * 31 + char.charCodeAt(0)) | 0, 7).toString(36);

const store = (cache, url) =>
  fetch(url, { credentials: "omit" })
    .then((response) => response.ok && !response.redirected && cache.put(url, response))
    .catch(() => {});

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => Promise.all([cache.addAll(ASSETS), ...PAGES.map((page) => store(cache, page))]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((name) => name.startsWith("portline-") && name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

// A page tells its language: keep the pages in that language too, once.
self.addEventListener("message", (event) => {
  const lang = String(event.data?.lang || "");
  if (!/^[a-z]{2,3}$/.test(lang)) return;
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      Promise.all(PAGES.map((page) => `${page}?lang=${lang}`).map((url) =>
        cache.match(url).then((found) => found || store(cache, url))))),
  );
});

async function page(event) {
  const { request } = event, url = new URL(request.url);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) {
      const copy = response.clone();
      event.waitUntil(caches.open(CACHE).then((cache) => cache.put(url.href, copy)));
    }
    return response;
  } catch (error) {
    const lang = url.searchParams.get("lang");
    const found = (await caches.match(url.href)) ||
      (lang && (await caches.match(`${url.pathname}?lang=${lang}`))) ||
      (await caches.match(url.pathname)) ||
      (await caches.match(url.pathname, { ignoreSearch: true }));
    if (found) return found;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const { request } = event, url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== location.origin) return;
  if (request.mode === "navigate" && PAGES.includes(url.pathname)) {
    event.respondWith(page(event));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(caches.match(request).then((found) => found || fetch(request)));
  }
});
