// Entry of the application's worker threads (bundled to dist/worker.mjs): serve the task table.
import { serveBlockTasks } from "../blockwise/worker-host.ts";
import { TASK_TABLE } from "./table.ts";

serveBlockTasks(TASK_TABLE);
