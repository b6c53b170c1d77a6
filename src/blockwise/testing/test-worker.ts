// Worker entry for the block-wise tests: the test task table instead of the app's.
import { serveBlockTasks } from "../worker-host.ts";
import { TEST_TASKS } from "./test-tasks.ts";

serveBlockTasks(TEST_TASKS);
