// Trades the one-time ticket of a websocket sign-in for the HttpOnly session cookie,
// then loads the next page (a fresh websocket carries the cookie to the server).
window.pytakeSignIn = async function (ticket, next) {
  try {
    const response = await fetch("/auth/session", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ticket: ticket }),
    });
    window.location.replace(response.ok ? next : "/login?error=session");
  } catch (error) {
    window.location.replace("/login?error=session");
  }
};
