/** Every sensorctl command, in the order --help lists them. */
import type { CommandModule } from 'yargs';
import { alertsCommand } from './alerts.js';
import { backupCommand } from './backup.js';
import { exportProfilesCommand } from './export-profiles.js';
import { fingerprintCommand } from './fingerprint.js';
import { importProfilesCommand } from './import-profiles.js';
import { profilesCommand } from './profiles.js';
import { seedCommand } from './seed.js';
import { statusCommand } from './status.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const COMMANDS: CommandModule<any, any>[] = [
  statusCommand,
  alertsCommand,
  profilesCommand,
  exportProfilesCommand,
  importProfilesCommand,
  seedCommand,
  backupCommand,
  fingerprintCommand,
];
