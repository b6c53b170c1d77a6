/*
 * Shell and routing. Routes live in the URL hash (#/d/<id>/view?view=...) so any static server can host
 * the built app and every page is a shareable link.
 */
import { Component, type ReactNode, useEffect, useState } from "react";
import { AnnotatorPage } from "./annotate/AnnotatorPage.tsx";
import { api, type Health } from "./api.ts";
import { JobsPage } from "./dash/JobsPage.tsx";
import { ResultsPage } from "./dash/ResultsPage.tsx";
import { RunsPage } from "./dash/RunsPage.tsx";
import { CataloguePage } from "./pages/CataloguePage.tsx";
import { DatasetPage } from "./pages/DatasetPage.tsx";
import { ViewerPage } from "./pages/ViewerPage.tsx";
import { getToken, setToken } from "./token.ts";

interface Route {
  parts: string[];
  params: URLSearchParams;
}

function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, "");
  const [path = "", query = ""] = h.split("?");
  return {
    parts: path.split("/").filter(Boolean).map(decodeURIComponent),
    params: new URLSearchParams(query),
  };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

function Page({ route }: { route: Route }) {
  const [first, second, third] = route.parts;
  if (first === "d" && second && third === "view")
    // Keyed by the saved view too: opening another view reloads the dataset, so views saved since are found.
    return (
      <ViewerPage
        key={`${second}?${route.params.get("view") ?? ""}`}
        id={second}
        viewName={route.params.get("view") ?? undefined}
      />
    );
  if (first === "d" && second && third === "annotate") return <AnnotatorPage key={second} id={second} />;
  if (first === "d" && second) return <DatasetPage key={second} id={second} />;
  if (first === "runs") return <RunsPage id={second} />;
  if (first === "results") return <ResultsPage params={route.params} />;
  if (first === "jobs") return <JobsPage />;
  return <CataloguePage />;
}

function TokenField() {
  const [token, set] = useState(getToken);
  return (
    <label className="token" title="the write token `organelle serve` printed at start-up">
      token{" "}
      <input
        type="password"
        value={token}
        data-testid="token"
        placeholder="for saving and jobs"
        onChange={(e) => {
          set(e.target.value);
          setToken(e.target.value);
        }}
      />
    </label>
  );
}

/** A page that throws shows its error instead of blanking the whole app. */
class ErrorBoundary extends Component<
  { children: ReactNode; route: string },
  { error: string; route: string }
> {
  override state = { error: "", route: "" };
  static getDerivedStateFromError(e: unknown) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
  static getDerivedStateFromProps(props: { route: string }, state: { error: string; route: string }) {
    return props.route === state.route ? null : { error: "", route: props.route };
  }
  override render() {
    return this.state.error ? (
      <p className="error">This page failed: {this.state.error}</p>
    ) : (
      this.props.children
    );
  }
}

export function App() {
  const route = useRoute();
  const [health, setHealth] = useState<Health | null>(null);
  useEffect(() => {
    api.health().then(setHealth, () => {});
  }, []);
  const section = route.parts[0] ?? "";
  const link = (href: string, label: string, active: boolean) => (
    <a href={href} className={active ? "active" : ""}>
      {label}
    </a>
  );
  return (
    <div className={`app ${route.parts[2] === "view" || route.parts[2] === "annotate" ? "app-viewer" : ""}`}>
      <header>
        <a href="#/" className="brand">
          organelle
        </a>
        <nav>
          {link("#/", "Datasets", section === "" || section === "d")}
          {link("#/runs", "Runs", section === "runs")}
          {link("#/results", "Results", section === "results")}
          {link("#/jobs", "Jobs", section === "jobs")}
        </nav>
        <span className="muted">{health ? `${health.dir} · v${health.version}` : ""}</span>
        <TokenField />
      </header>
      <div className="content">
        <ErrorBoundary route={route.parts.join("/")}>
          <Page route={route} />
        </ErrorBoundary>
      </div>
    </div>
  );
}
