/**
 * Synchronous teardown that runs however the process ends: a normal exit,
 * an uncaught error, SIGINT or SIGTERM. Each step is synchronous (kill,
 * umount, rm) so it can run inside an 'exit' handler; steps run newest first,
 * once, and a failing step does not stop the others.
 */
const steps = [];
let ran = false;

export function onCleanup(step) {
  steps.push(step);
}

export function runCleanup() {
  if (ran) return;
  ran = true;
  while (steps.length > 0) {
    const step = steps.pop();
    try {
      step();
    } catch (error) {
      console.error(`cleanup step failed: ${error.message}`);
    }
  }
}

process.on('exit', runCleanup);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\n${signal}: cleaning up`);
    runCleanup();
    process.exit(130);
  });
}
process.on('uncaughtException', (error) => {
  console.error(error);
  runCleanup();
  process.exit(1);
});
process.on('unhandledRejection', (error) => {
  console.error(error);
  runCleanup();
  process.exit(1);
});
