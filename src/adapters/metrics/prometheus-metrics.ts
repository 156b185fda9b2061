import { createServer, type Server } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { phases } from '../../domain/access-request.js';
import type { AuditEventInput } from '../../domain/audit-event.js';
import type { Store } from '../../services/ports.js';
import { createActivityMetrics } from './activity-metrics.js';
import { createAuditSinkMetrics } from './audit-sink-metrics.js';
import { createNotificationMetrics } from './notification-metrics.js';
import { createOutboxMetrics } from './outbox-metrics.js';
import { createReviewMetrics } from './review-metrics.js';
import { createTicketMetrics } from './ticket-metrics.js';

/**
 * Prometheus metrics. Counts come from the audit events as they are committed, so every number matches
 * the audit trail exactly; current state (how many grants are active) is read from the store per scrape.
 */
export function createMetrics(store: Pick<Store, 'countByPhase' | 'auditHead'>) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'elevate_' });

  const auditEvents = new Counter({
    name: 'elevate_audit_events_total',
    help: 'Audit events committed, by action (RequestCreated, GrantActivated, GrantExpired, BindingRestored, ...)',
    labelNames: ['action'],
    registers: [registry],
  });
  const removalLag = new Histogram({
    name: 'elevate_expiry_removal_lag_seconds',
    help: 'Time from a grant expiring to Elevate having removed its binding',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const clusterFailures = new Counter({
    name: 'elevate_cluster_failures_total',
    help: 'Failed attempts to bring a cluster in line (each is retried with backoff)',
    labelNames: ['job'],
    registers: [registry],
  });
  let countTimers = () => 0;
  new Gauge({
    name: 'elevate_timers',
    help: 'Requests this server has a timer for (expiries, approval deadlines, retries)',
    registers: [registry],
    collect() {
      this.set(countTimers());
    },
  });
  const leader = new Gauge({
    name: 'elevate_leader',
    help: '1 while this server holds the lease and runs the timers and drift repair',
    registers: [registry],
  });
  new Gauge({
    name: 'elevate_access_requests',
    help: 'Access requests by phase',
    labelNames: ['phase'],
    registers: [registry],
    async collect() {
      const counts = await store.countByPhase();
      for (const phase of phases) this.set({ phase }, counts[phase] ?? 0);
    },
  });

  new Gauge({
    name: 'elevate_audit_head',
    help:
      'The newest audit event: its seq as the value, its hash as a label. Record it outside Elevate and ' +
      'check later with `elevate audit verify --expect-head SEQ:HASH`: deleting the newest events is ' +
      'otherwise undetectable',
    labelNames: ['hash'],
    registers: [registry],
    async collect() {
      const head = await store.auditHead();
      // Only the current head is exported: the previous hash's series ends here.
      this.reset();
      if (head) this.set({ hash: head.hash }, head.seq);
    },
  });

  const auditWriteListeners: (() => void)[] = [];

  return {
    registry,
    ...createTicketMetrics(registry),
    ...createReviewMetrics(registry),
    ...createOutboxMetrics(registry),
    ...createAuditSinkMetrics(registry),
    ...createNotificationMetrics(registry),
    ...createActivityMetrics(registry),
    /** Called after each committed write with audit events on this server (the outbox relay's poke). */
    whenAuditWritten(listener: () => void): void {
      auditWriteListeners.push(listener);
    },
    observeAudit(events: AuditEventInput[]): void {
      if (events.length > 0) for (const listener of auditWriteListeners) listener();
      for (const e of events) {
        auditEvents.inc({ action: e.action });
        const expiresAt = e.details.expiresAt;
        if (e.action === 'GrantExpired' && typeof expiresAt === 'string') {
          removalLag.observe(Math.max(0, (e.time.getTime() - Date.parse(expiresAt)) / 1000));
        }
      }
    },
    /** Where elevate_timers is read from; set once the jobs exist. */
    countTimersWith(count: () => number): void {
      countTimers = count;
    },
    setLeader(leading: boolean): void {
      leader.set(leading ? 1 : 0);
    },
    clusterFailed(job: 'grants' | 'drift'): void {
      clusterFailures.inc({ job });
    },
    /** Serves GET /metrics on its own listener, as Kubernetes components do. */
    async serve(host: string, port: number): Promise<Server> {
      const server = createServer((req, res) => {
        if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
          res.writeHead(404).end();
          return;
        }
        registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
          (e: Error) => res.writeHead(500).end(e.message),
        );
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, resolve);
      });
      return server;
    },
  };
}

/** A store that tells `observe` about the audit events of each write, once that write has committed. */
export function observeAuditWrites(store: Store, observe: (events: AuditEventInput[]) => void): Store {
  return {
    ...store,
    async createRequest(request, events, review) {
      await store.createRequest(request, events, review);
      observe(events);
    },
    async updateRequest(request, events) {
      const saved = await store.updateRequest(request, events);
      observe(events);
      return saved;
    },
    async updateRequests(changes) {
      const saved = await store.updateRequests(changes);
      observe(changes.flatMap((c, i) => (saved[i] ? c.events : [])));
      return saved;
    },
    async appendAudit(events) {
      await store.appendAudit(events);
      observe(events);
    },
    async createApiToken(token, events) {
      await store.createApiToken(token, events);
      observe(events);
    },
    async revokeApiToken(name, by, at, events) {
      const revoked = await store.revokeApiToken(name, by, at, events);
      // Revoking a revoked token writes nothing.
      if (revoked && revoked.revokedAt?.getTime() === at.getTime()) observe(events);
      return revoked;
    },
    async recordApiTokenUse(name, at, events) {
      await store.recordApiTokenUse(name, at, events);
      observe(events);
    },
    async saveMfaEnrolment(enrolment, events) {
      const saved = await store.saveMfaEnrolment(enrolment, events);
      observe(events);
      return saved;
    },
    async deleteMfaEnrolment(user, events) {
      const deleted = await store.deleteMfaEnrolment(user, events);
      if (deleted) observe(events);
      return deleted;
    },
    async saveReview(review, events) {
      const saved = await store.saveReview(review, events);
      observe(events);
      return saved;
    },
    async saveBreakglassMode(mode, events) {
      const saved = await store.saveBreakglassMode(mode, events);
      observe(events);
      return saved;
    },
  };
}
