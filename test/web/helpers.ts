import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { BIN, REPO } from "../helpers/cli.ts";

/**
 * What the browser tests share: a real `organelle serve` of a temporary directory, Debian's chromium driven
 * by playwright-core, and screenshots in test-artifacts/web/.
 */

const CHROMIUM = "/usr/bin/chromium";
export const SHOTS = path.join(REPO, "test-artifacts", "web");

export interface Served {
  url: string;
  /** The bearer token for writes the server printed. */
  token: string;
  child: ChildProcess;
}

/** `organelle serve dir` on a free port; resolves once it has printed its URL and write token. */
export function startServe(dir: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve", dir, "--port", "0"], {
      env: { ...process.env, ORGANELLE_QUIET: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`organelle serve did not start:\n${out}${err}`));
    }, 30_000);
    child.stderr!.on("data", (b: Buffer) => {
      err += b.toString();
    });
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      const url = /(http:\/\/[\d.]+:\d+)\//.exec(out)?.[1];
      const token = /token for writes[^:]*: (\S+)/.exec(out)?.[1];
      if (url && token) {
        clearTimeout(timer);
        resolve({ url, token, child });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`organelle serve exited (${code}):\n${out}${err}`));
    });
  });
}

/**
 * Headless chromium (no sandbox, no GPU, plus `extraArgs`) and one 1280x860 page that logs the app's
 * uncaught errors; makes the screenshot directory.
 */
export async function launchPage(extraArgs: string[] = []): Promise<{ browser: Browser; page: Page }> {
  fs.mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", ...extraArgs],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
    return { browser, page };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

/** A screenshot of the page in test-artifacts/web/. */
export const screenshot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, name) });

/** A canvas' pixels as a data URL: equal strings, equal pictures. */
export const canvasPixels = (page: Page, testid: string) =>
  page.$eval(`[data-testid=${testid}]`, (c) => (c as unknown as { toDataURL(): string }).toDataURL());

/** Saves a view of `dataset` (POST .../views with the write token); resolves to the response status. */
export async function saveView(base: string, token: string, dataset: string, view: object): Promise<number> {
  const res = await fetch(`${base}/api/datasets/${encodeURIComponent(dataset)}/views`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(view),
  });
  return res.status;
}
