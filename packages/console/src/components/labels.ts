/** How the screens name and colour end users' statuses, feature kinds and policy effects. */
import type { Tone } from './ui';

export const STATUS_TONE: Record<string, Tone> = {
  active: 'green',
  locked: 'red',
  invited: 'blue',
  deactivated: 'grey',
};
export const statusLabel = (status: string) => status.charAt(0).toUpperCase() + status.slice(1);

export const kindLabel = (kind: string) =>
  ({
    assistant: 'Assistant',
    chat_app: 'Chat app',
    mcp_server: 'MCP server',
    apps_portal: 'Apps portal',
  })[kind] ?? kind;

export const EFFECT_TONE: Record<string, Tone> = {
  allow: 'green',
  deny: 'red',
  require_approval: 'amber',
};
export const effectLabel = (effect: string) =>
  ({ allow: 'Allow', deny: 'Deny', require_approval: 'Require approval' })[effect] ?? effect;
