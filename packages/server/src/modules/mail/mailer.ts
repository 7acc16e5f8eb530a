/**
 * Outgoing mail. With ROSTER_SMTP_URL set, messages go through SMTP (nodemailer); otherwise each
 * one is appended as a JSON line to `<data dir>/outbox.jsonl`, so a fresh install works without
 * a mail server and tests can read what was sent.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
  /** Where messages go, for the startup log. */
  describe(): string;
  /** `smtp`: mails are sent; `outbox`: they are only written to the outbox file (no SMTP configured). */
  readonly delivery: 'smtp' | 'outbox';
}

export function createMailer(options: {
  smtpUrl?: string | undefined;
  outboxPath: string;
  from: string;
}): Mailer {
  if (options.smtpUrl !== undefined && options.smtpUrl !== '') {
    const transport = nodemailer.createTransport(options.smtpUrl);
    const host = new URL(options.smtpUrl).host;
    return {
      async send(message) {
        await transport.sendMail({ from: options.from, ...message });
      },
      describe: () => `SMTP ${host}`,
      delivery: 'smtp',
    };
  }
  return {
    async send(message) {
      await mkdir(path.dirname(options.outboxPath), { recursive: true });
      await appendFile(options.outboxPath, `${JSON.stringify(message)}\n`, 'utf8');
    },
    describe: () => `outbox file ${options.outboxPath}`,
    delivery: 'outbox',
  };
}
