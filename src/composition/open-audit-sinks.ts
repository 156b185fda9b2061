import { createElasticsearchSink } from '../adapters/audit-sinks/elasticsearch-sink.js';
import { createLokiSink } from '../adapters/audit-sinks/loki-sink.js';
import { createS3Sink } from '../adapters/audit-sinks/s3-sink.js';
import { createSplunkSink } from '../adapters/audit-sinks/splunk-sink.js';
import { createSyslogSink } from '../adapters/audit-sinks/syslog-sink.js';
import { createWebhookSink } from '../adapters/audit-sinks/webhook-sink.js';
import type { AuditSinkConfig } from '../config/audit-sink-schema.js';
import { ConfigError } from '../config/load-config.js';
import type { AuditSink } from '../services/audit-sink.js';

/** The adapter of each sink type. */
function openSink(config: AuditSinkConfig): Promise<AuditSink> {
  switch (config.type) {
    case 'webhook':
      return createWebhookSink(config);
    case 'splunk':
      return createSplunkSink(config);
    case 'elasticsearch':
      return createElasticsearchSink(config);
    case 'loki':
      return createLokiSink(config);
    case 's3':
      return createS3Sink(config);
    case 'syslog':
      return createSyslogSink(config);
  }
}

/**
 * Every configured audit sink, opened at start: a secret file that is missing or empty, or a caFile that
 * holds no certificate, fails the start naming the sink's field (never the secret).
 */
export async function openAuditSinks(file: string, sinks: AuditSinkConfig[]): Promise<AuditSink[]> {
  const opened: AuditSink[] = [];
  for (const sink of sinks) {
    try {
      opened.push(await openSink(sink));
    } catch (e) {
      await Promise.all(opened.map((s) => s.close?.()));
      throw new ConfigError(
        `${file}: audit.sinks[${sinks.indexOf(sink)}] (${sink.name}): ${(e as Error).message}`,
      );
    }
  }
  return opened;
}
