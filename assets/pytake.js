// Sign-in and sign-out need real HTTP requests: a websocket event cannot set or clear the
// HttpOnly session cookie. In production the backend is this origin; under `reflex run`
// (dev) it is another port of the same host, which Reflex's state module knows.
function pytakeBackend() {
  try {
    return window.__reflex["$/utils/state"].getBackendURL().origin;
  } catch (error) {
    return "";
  }
}

window.pytakeSignIn = async function (ticket, next) {
  try {
    const response = await fetch(pytakeBackend() + "/auth/session", {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ticket: ticket }),
    });
    // A full load opens a new websocket, which carries the new cookie to the server.
    window.location.replace(response.ok ? next : "/login?error=session");
  } catch (error) {
    window.location.replace("/login?error=session");
  }
};

window.pytakeSignOut = async function () {
  try {
    await fetch(pytakeBackend() + "/auth/logout", { method: "POST", credentials: "include" });
  } finally {
    // The next page gets a new tab token: the old one's states were emptied by the server.
    window.sessionStorage.removeItem("token");
    window.location.replace("/login");
  }
};

// Voice notes: the browser records (WebM/Opus in Chromium, OGG in Firefox, MP4 in Safari) and
// hands the file to the composer's hidden voice upload; the server re-encodes it to OGG/Opus.
window.pytakeVoice = {
  recorder: null,
  chunks: [],
  start: async function () {
    if (this.recorder) return true;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      this.recorder = new MediaRecorder(stream);
    } catch (error) {
      return false;
    }
    this.chunks = [];
    this.recorder.ondataavailable = (event) => event.data.size && this.chunks.push(event.data);
    this.recorder.start();
    return true;
  },
  stop: function (send) {
    const recorder = this.recorder;
    if (!recorder) return;
    this.recorder = null;
    recorder.onstop = () => {
      recorder.stream.getTracks().forEach((track) => track.stop());
      if (!send || !this.chunks.length) return;
      const type = recorder.mimeType || "audio/webm";
      const file = new File(this.chunks, "voice-note." + (type.split("/")[1] || "webm").split(";")[0], { type: type });
      const input = document.querySelector("#voice-upload input[type=file]");
      const files = new DataTransfer();
      files.items.add(file);
      input.files = files.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    };
    recorder.stop();
  },
};

// After the agent's own send (or opening a conversation) the thread shows its end, even if
// the agent had scrolled up; new customer messages follow only when already at the end.
window.pytakeScrollThread = function () {
  setTimeout(function () {
    const thread = document.querySelector('[data-testid="thread"]');
    if (thread) thread.scrollTop = thread.scrollHeight;
  }, 60);
};

// A search result opens its conversation with the message in the middle of the thread.
window.pytakeScrollTo = function (id) {
  setTimeout(function () {
    const target = document.getElementById(id);
    if (target) target.scrollIntoView({ block: "center" });
  }, 60);
};

// Keyboard: arrows move through the inbox list (Enter opens the focused row, a link); Esc in
// a conversation goes back to the inbox unless a dialog, menu or field has it.
document.addEventListener("keydown", function (event) {
  if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
  const target = event.target;
  const typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  const path = window.location.pathname.replace(/\/+$/, "");
  if (path === "/inbox" && !typing && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
    const rows = Array.from(document.querySelectorAll('[data-testid="conversation-row"]'));
    if (!rows.length) return;
    const at = rows.indexOf(document.activeElement);
    const next = event.key === "ArrowDown" ? Math.min(at + 1, rows.length - 1) : Math.max(at - 1, 0);
    rows[at === -1 ? 0 : next].focus();
    event.preventDefault();
  } else if (event.key === "Escape" && /^\/inbox\/\d+$/.test(path) && !typing) {
    if (document.querySelector('[role="dialog"], [role="menu"]')) return;
    const back = document.querySelector('[data-testid="back-to-inbox"]');
    if (back) back.click();
  }
});

// Older messages load by themselves when the agent scrolls to the top of the thread.
document.addEventListener(
  "scroll",
  function (event) {
    const thread = event.target;
    if (!thread.matches || !thread.matches('[data-testid="thread"]') || thread.scrollTop > 80) return;
    const older = thread.querySelector('[data-testid="load-older"]');
    const now = Date.now();
    if (older && now - (window.pytakeOlderAt || 0) > 1000) {
      window.pytakeOlderAt = now;
      older.click();
    }
  },
  true
);

// The quick-reply picker under a "/word" draft: ↑/↓ choose, Enter inserts the chosen one
// (instead of sending the draft), Esc closes it. Runs before React sees the key.
document.addEventListener(
  "keydown",
  function (event) {
    const list = document.querySelector('[data-testid="quick-replies"]');
    if (!list || !event.target || event.target.id !== "composer-input") return;
    const items = Array.from(list.querySelectorAll('[data-testid="quick-reply"]'));
    const at = items.findIndex((item) => item.getAttribute("aria-selected") === "true");
    const choose = function (index) {
      items.forEach((item, n) => {
        item.setAttribute("aria-selected", n === index ? "true" : "false");
        item.style.background = n === index ? "var(--accent-4)" : "";
      });
      items[index].scrollIntoView({ block: "nearest" });
    };
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      choose(at === -1 ? (step > 0 ? 0 : items.length - 1) : (at + step + items.length) % items.length);
    } else if (event.key === "Enter" && !event.shiftKey) {
      items[at === -1 ? 0 : at].click();
    } else if (event.key === "Escape") {
      list.style.display = "none";
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  },
  true
);

// Installable app: the service worker (assets/sw.js), and the user menu's "Install PyTake",
// shown only while the browser offers installing (html.pytake-installable).
if ("serviceWorker" in navigator) {
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js").catch(function () {});
  });
}
let pytakeInstallPrompt = null;
window.addEventListener("beforeinstallprompt", function (event) {
  event.preventDefault();
  pytakeInstallPrompt = event;
  document.documentElement.classList.add("pytake-installable");
});
window.addEventListener("appinstalled", function () {
  pytakeInstallPrompt = null;
  document.documentElement.classList.remove("pytake-installable");
});
window.pytakeInstall = function () {
  if (!pytakeInstallPrompt) return;
  pytakeInstallPrompt.prompt();
  pytakeInstallPrompt.userChoice.finally(function () {
    pytakeInstallPrompt = null;
    document.documentElement.classList.remove("pytake-installable");
  });
};

// Notices (pytake/ui/notices.py): while the tab is not in front, the title and the favicon
// count what arrived; a sound plays (if on); a desktop notification shows (if allowed) and
// brings the conversation up when clicked. Coming back to the tab clears the count.
window.pytakeNotices = {
  count: 0,
  icon: null,
  prefix: function () {
    return this.count ? "(" + this.count + "•) " : "";
  },
  title: function () {
    const bare = document.title.replace(/^\(\d+•\) /, "");
    const wanted = this.prefix() + bare;
    if (document.title !== wanted) document.title = wanted;
  },
  favicon: function () {
    const link = document.querySelector("link[rel~='icon']");
    if (!link) return;
    if (this.icon === null) this.icon = link.href;
    if (!this.count) {
      link.href = this.icon;
      return;
    }
    const image = new Image();
    image.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 64;
      const context = canvas.getContext("2d");
      context.drawImage(image, 0, 0, 64, 64);
      context.fillStyle = "#e5484d";
      context.beginPath();
      context.arc(46, 18, 18, 0, 2 * Math.PI);
      context.fill();
      context.fillStyle = "#fff";
      context.font = "bold 24px sans-serif";
      context.textAlign = "center";
      context.textBaseline = "middle";
      context.fillText(this.count > 9 ? "9+" : String(this.count), 46, 19);
      link.href = canvas.toDataURL("image/png");
    };
    image.src = "/icons/icon-192.png";
  },
  show: function () {
    this.title();
    this.favicon();
  },
  clear: function () {
    this.count = 0;
    this.show();
  },
  sound: function (volume) {
    const audio = new Audio("/notify.wav");
    audio.volume = Math.min(Math.max(Number(volume) || 0.6, 0), 1);
    audio.play().catch(() => {}); // before any click on the page, browsers stay silent
  },
  ask: async function () {
    if (!("Notification" in window)) return "unsupported";
    if (Notification.permission === "default") return await Notification.requestPermission();
    return Notification.permission;
  },
};

window.pytakeNotify = function (notice) {
  const notices = window.pytakeNotices;
  const away = document.hidden || !document.hasFocus();
  if (notice.sound) notices.sound(notice.volume);
  if (!away) return;
  notices.count += 1;
  notices.show();
  if (notice.desktop && "Notification" in window && Notification.permission === "granted") {
    const shown = new Notification(notice.title, {
      body: notice.body,
      tag: notice.url,
      icon: "/icons/icon-192.png",
    });
    shown.onclick = () => {
      window.focus();
      window.location.assign(notice.url);
      shown.close();
    };
  }
};

// Web Push on this device (pytake/ui/pages/notifications.py): the service worker's
// subscription, made with the deployment's VAPID key, is what the server pushes to.
window.pytakePush = {
  supported: function () {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  },
  registration: async function () {
    const found = await navigator.serviceWorker.getRegistration("/");
    if (found) return found;
    return await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  },
  endpoint: async function () {
    if (!this.supported()) return "unsupported";
    const registration = await navigator.serviceWorker.getRegistration("/");
    const subscription = registration && (await registration.pushManager.getSubscription());
    return subscription ? subscription.endpoint : "";
  },
  subscribe: async function (key) {
    if (!this.supported()) return { error: "unsupported" };
    if ((await window.pytakeNotices.ask()) !== "granted") return { error: "denied" };
    try {
      const registration = await this.registration();
      let subscription = await registration.pushManager.getSubscription();
      const current = subscription && subscription.options.applicationServerKey;
      if (current && btoa(String.fromCharCode(...new Uint8Array(current)))
          .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") !== key) {
        await subscription.unsubscribe(); // made with another deployment's key
        subscription = null;
      }
      if (!subscription) {
        subscription = await registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: key,
        });
      }
      return { subscription: subscription.toJSON() };
    } catch (error) {
      return { error: "failed", detail: String((error && error.message) || error) };
    }
  },
  unsubscribe: async function () {
    const registration = await navigator.serviceWorker.getRegistration("/");
    const subscription = registration && (await registration.pushManager.getSubscription());
    if (!subscription) return "";
    const endpoint = subscription.endpoint;
    await subscription.unsubscribe();
    return endpoint;
  },
};

window.addEventListener("focus", () => window.pytakeNotices.clear());
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) window.pytakeNotices.clear();
});
// Pages set their own titles: keep the count in front of whichever is shown.
new MutationObserver(() => window.pytakeNotices.count && window.pytakeNotices.title()).observe(
  document.querySelector("title") || document.head,
  { childList: true, characterData: true, subtree: true },
);
