/**
 * The `autodialer` command line.
 */
import { Command, CommanderError } from 'commander';
import { addCampaignCommands } from './campaign.js';
import { addRoleCommands } from './roles.js';
import { addOpsCommands } from './ops.js';
import { addSimulateCommand } from './simulate.js';
import { addScheduleCommands } from './schedule.js';
import { addNumberCommands } from './number.js';
import { describeError, processIo, type CliIo } from './shared.js';

export function buildProgram(io: CliIo): Command {
  const program = new Command('autodialer')
    .description('Batch campaign autodialer: contact lists to rate-limited calls through telephony provider APIs, results tied back to each contact.')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  addCampaignCommands(program, io);
  addRoleCommands(program, io);
  addOpsCommands(program, io);
  addScheduleCommands(program, io);
  addNumberCommands(program, io);
  addSimulateCommand(program, { env: io.env });
  return program;
}

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const { code, text } = describeError(err);
    io.err(`autodialer: ${text}\n`);
    return code;
  }
}

const invokedDirectly = process.argv[1] !== undefined && /[/\\]cli[/\\]main\.(ts|js)$/.test(process.argv[1]);
if (invokedDirectly) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
