/** Every sensorctl command, in the order --help lists them. */
import type { CommandModule } from 'yargs';
import { fingerprintCommand } from './fingerprint.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const COMMANDS: CommandModule<any, any>[] = [fingerprintCommand];
