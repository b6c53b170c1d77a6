// Worker entry of bench/ops-parallel.ts's compute-only runs: serves the in-memory block functions.
import { serveBlockTasks } from "../src/blockwise/worker-host.ts";
import { MEMORY_TASKS } from "./ops-memory-tasks.ts";

serveBlockTasks(MEMORY_TASKS);
