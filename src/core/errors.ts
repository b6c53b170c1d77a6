/**
 * Tagged errors. Every error a user can cause carries a kind and a one-line message that says
 * what is wrong, where, and what to do; the CLI prints only that line unless --debug is given.
 */
export type ErrorKind =
  | "InvalidArgument"
  | "NotFound"
  | "InvalidData"
  | "Unsupported"
  | "Io"
  | "Incomplete"
  | "BlockFailed"
  | "Engine"
  | "Aborted";

export class OrganelleError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = `OrganelleError(${kind})`;
  }
}

export function isOrganelleError(e: unknown, kind?: ErrorKind): e is OrganelleError {
  return e instanceof OrganelleError && (kind === undefined || e.kind === kind);
}

export function invalidArgument(message: string, cause?: unknown): OrganelleError {
  return new OrganelleError("InvalidArgument", message, { cause });
}
export function notFound(message: string, cause?: unknown): OrganelleError {
  return new OrganelleError("NotFound", message, { cause });
}
export function invalidData(message: string, cause?: unknown): OrganelleError {
  return new OrganelleError("InvalidData", message, { cause });
}
export function unsupported(message: string, cause?: unknown): OrganelleError {
  return new OrganelleError("Unsupported", message, { cause });
}

/** Converts Node's filesystem errors into one-line OrganelleErrors naming the path. */
export function fromFsError(e: unknown, path: string, action: string): OrganelleError {
  if (e instanceof OrganelleError) return e;
  const code = (e as { code?: string } | null)?.code;
  switch (code) {
    case "ENOENT":
      return notFound(`${path}: no such file or directory (while ${action})`, e);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new OrganelleError(
        "Io",
        `${path}: permission denied (while ${action}); choose a writable location`,
        {
          cause: e,
        },
      );
    case "ENOTDIR":
      return new OrganelleError("Io", `${path}: a part of the path is not a directory (while ${action})`, {
        cause: e,
      });
    case "EISDIR":
      return new OrganelleError("Io", `${path}: is a directory, expected a file (while ${action})`, {
        cause: e,
      });
    case "ENOSPC":
      return new OrganelleError("Io", `${path}: no space left on device (while ${action})`, { cause: e });
    case "EEXIST":
      return new OrganelleError("Io", `${path}: already exists (while ${action})`, { cause: e });
    default:
      return new OrganelleError("Io", `${path}: ${(e as Error)?.message ?? String(e)} (while ${action})`, {
        cause: e,
      });
  }
}
