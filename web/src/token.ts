/** The write token lives in sessionStorage: it survives reloads of the tab but not the browser session. */
const KEY = "organelle.token";

export function getToken(): string {
  try {
    return sessionStorage.getItem(KEY) ?? "";
  } catch {
    return "";
  }
}

export function setToken(token: string): void {
  sessionStorage.setItem(KEY, token.trim());
}
