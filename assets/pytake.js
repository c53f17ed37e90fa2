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
    window.location.replace("/login");
  }
};
