/**
 * `goark serve`: start the proxy with the configuration from flags > GOARK_*
 * environment > goark.yaml > defaults, print the lines a client needs, and
 * stop gracefully on SIGTERM/SIGINT (a second signal exits at once).
 */
import type { Command } from "commander";
import { startApp } from "../server/app.ts";
import { addConfigFlags, configFromCommand } from "./config-flags.ts";

export function registerServe(program: Command): void {
  const cmd = program
    .command("serve")
    .description("Serve the GOPROXY protocol, keeping every module served in the store");
  addConfigFlags(cmd);
  cmd.action(async () => {
    const { config } = configFromCommand(cmd);
    const app = await startApp(config);
    app.logger.info(
      { url: app.url, storage: app.storage.name, upstream: config.upstream, offline: config.offline },
      "goark serving",
    );
    process.stdout.write(`goark listening on ${app.url}\nPoint the go command at it:\n`);
    for (const line of app.clientLines) process.stdout.write(`  ${line}\n`);

    await new Promise<void>((done) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          // Second signal: the operator wants out now.
          process.exit(130);
        }
        stopping = true;
        app.logger.info({ signal, deadlineMs: config.shutdownTimeout }, "shutting down");
        app.close(config.shutdownTimeout).then(
          () => done(),
          (err: unknown) => {
            app.logger.error({ err: (err as Error).message }, "shutdown failed");
            done();
          },
        );
      };
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    });
    app.logger.info({}, "stopped");
  });
}
