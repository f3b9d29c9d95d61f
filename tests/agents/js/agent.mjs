// An @a2a-js/sdk 1.3.0 echo agent for a2actl's interop tests (express, in-memory task store).
//
//   node agent.mjs --port 0 [--host 127.0.0.1] [--compat] [--interval SECONDS]
//
// Serves, on one port: the card at /.well-known/agent-card.json, JSON-RPC at POST /a2a/jsonrpc,
// HTTP+JSON (REST) under /a2a/rest (1.0: /a2a/rest/message:send …; with --compat also the v0.3
// routes /a2a/rest/v1/message:send …), and GET /debug/requests (what the agent received, oldest
// first; DELETE clears it). --compat turns on the SDK's `legacyCompat: {enabled: true}` on the card,
// JSON-RPC and REST handlers (0.3 card when no A2A-Version header, 0.3 method names and routes).
// The first stdout line is the base URL, printed once the server listens.
//
// Behaviour (the sandbox's table, a2actl/sandbox/agent.py): plain text -> completed with a two-chunk
// echo artifact; /fail failed; /input input-required; /auth auth-required; /reject rejected;
// /cancel canceled; /msg TEXT a bare Message; /slow N N seconds between steps; /stream N BYTES.

import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';

import express from 'express';
import { A2A_PROTOCOL_VERSION, AGENT_CARD_PATH, Role, TaskState } from '@a2a-js/sdk';
import { AgentEvent, DefaultRequestHandler, InMemoryTaskStore } from '@a2a-js/sdk/server';
import { agentCardHandler, jsonRpcHandler, restHandler, UserBuilder } from '@a2a-js/sdk/server/express';

const { values: opts } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    compat: { type: 'boolean', default: false },
    interval: { type: 'string', default: '0.01' },
  },
});

const JSONRPC_PATH = '/a2a/jsonrpc';
const REST_PREFIX = '/a2a/rest';

const ENDINGS = [
  ['/fail', TaskState.TASK_STATE_FAILED, 'failed on request (/fail)'],
  ['/input', TaskState.TASK_STATE_INPUT_REQUIRED, 'more input, please'],
  ['/auth', TaskState.TASK_STATE_AUTH_REQUIRED, 'sign in first'],
  ['/reject', TaskState.TASK_STATE_REJECTED, 'rejected on request (/reject)'],
  ['/cancel', TaskState.TASK_STATE_CANCELED, 'canceled on request (/cancel)'],
];

const textPart = (value) => ({ content: { $case: 'text', value }, metadata: undefined, filename: '', mediaType: 'text/plain' });
const now = () => new Date().toISOString();
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

function agentMessage(text, contextId, taskId) {
  return {
    messageId: randomUUID(), role: Role.ROLE_AGENT, parts: [textPart(text)], contextId, taskId: taskId ?? '',
    extensions: [], metadata: {}, referenceTaskIds: [],
  };
}

function messageText(message) {
  return (message?.parts ?? []).filter((p) => p.content?.$case === 'text').map((p) => p.content.value).join('\n');
}

function streamArgs(text) {
  const parts = text.split(/\s+/);
  let count = parts.length > 1 ? Number.parseInt(parts[1], 10) : 10;
  let size = parts.length > 2 ? Number.parseInt(parts[2], 10) : 64;
  if (!Number.isFinite(count) || !Number.isFinite(size)) [count, size] = [10, 64];
  return [Math.max(1, Math.min(count, 100000)), Math.max(1, Math.min(size, 64 * 1024 * 1024))];
}

class EchoExecutor {
  constructor(interval) {
    this.interval = interval;
    this.canceled = new Set();
  }

  cancelTask = async (taskId, eventBus) => {
    this.canceled.add(taskId);
    eventBus.publish(AgentEvent.statusUpdate({
      taskId, contextId: this.contexts?.get(taskId) ?? '',
      status: { state: TaskState.TASK_STATE_CANCELED, timestamp: now(), message: undefined }, metadata: {},
    }));
  };

  async execute(ctx, bus) {
    const message = ctx.userMessage;
    const text = messageText(message);
    const { taskId, contextId } = ctx;
    if (text.startsWith('/msg')) {
      bus.publish(AgentEvent.message(agentMessage(`echo: ${text.slice(4).trim()}`, contextId)));
      return;
    }
    (this.contexts ??= new Map()).set(taskId, contextId);
    // The SDK wants a task (or message) as the first event of every call, follow-up turns included.
    bus.publish(AgentEvent.task(ctx.task ?? {
      id: taskId, contextId, status: { state: TaskState.TASK_STATE_SUBMITTED, timestamp: now(), message: undefined },
      artifacts: [], history: [message], metadata: {},
    }));
    const status = (state, note) => bus.publish(AgentEvent.statusUpdate({
      taskId, contextId, metadata: {},
      status: { state, timestamp: now(), message: note === undefined ? undefined : agentMessage(note, contextId, taskId) },
    }));
    const artifact = (artifactId, name, value, append, lastChunk) => bus.publish(AgentEvent.artifactUpdate({
      taskId, contextId, append, lastChunk, metadata: undefined,
      artifact: { artifactId, name, description: '', parts: [textPart(value)], metadata: undefined, extensions: [] },
    }));
    const pause = async (seconds) => { await sleep(seconds); return this.canceled.has(taskId); };
    let interval = this.interval;
    if (text.startsWith('/slow')) {
      const n = Number.parseFloat(text.split(/\s+/)[1]);
      interval = Number.isFinite(n) ? n : 1.0;
    }
    try {
      status(TaskState.TASK_STATE_WORKING, 'working on it');
      if (await pause(interval)) return;
      for (const [prefix, state, note] of ENDINGS) {
        if (text.startsWith(prefix)) {
          status(state, note);
          return;
        }
      }
      if (text.startsWith('/stream')) {
        const [count, size] = streamArgs(text);
        for (let i = 0; i < count; i++) {
          artifact('stream-artifact', 'stream', `chunk ${i}:${'x'.repeat(size)}`.slice(0, size), i > 0, i === count - 1);
          if (await pause(interval)) return;
        }
        status(TaskState.TASK_STATE_COMPLETED);
        return;
      }
      artifact('echo-artifact', 'echo', 'echo: ', false, false);
      if (await pause(interval)) return;
      artifact('echo-artifact', 'echo', text, true, true);
      status(TaskState.TASK_STATE_COMPLETED);
    } finally {
      this.canceled.delete(taskId);
      this.contexts.delete(taskId);
    }
  }
}

function buildCard(base) {
  const iface = (path, protocolBinding, protocolVersion = A2A_PROTOCOL_VERSION) => ({ url: base + path, protocolBinding, tenant: '', protocolVersion });
  const interfaces = [iface(JSONRPC_PATH, 'JSONRPC'), iface(REST_PREFIX, 'HTTP+JSON')];
  // legacyCompat needs the card to declare the 0.3 interfaces too (without them the 0.3 card is a 400 -32009).
  if (opts.compat) interfaces.push(iface(JSONRPC_PATH, 'JSONRPC', '0.3'), iface(REST_PREFIX, 'HTTP+JSON', '0.3'));
  return {
    name: `a2actl interop echo agent (@a2a-js/sdk${opts.compat ? ', v0.3 compat' : ''})`,
    description: 'Echo agent on @a2a-js/sdk 1.3.0, for a2actl\'s interop tests.',
    supportedInterfaces: interfaces,
    provider: { organization: 'a2actl', url: 'https://example.invalid' },
    version: '0.0.1',
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ['text/plain'],
    defaultOutputModes: ['text/plain'],
    skills: [{
      id: 'echo', name: 'Echo', description: 'Echoes text back.', tags: ['test'],
      examples: ['hello', '/fail', '/input', '/msg hi', '/slow 2'], inputModes: [], outputModes: [], securityRequirements: [],
    }],
    documentationUrl: '',
    signatures: [],
  };
}

// Request log: one entry per HTTP request (except /debug/...), read lazily so the JSON-RPC method is
// taken from the body the SDK's own parser stored on req.body.
const received = [];
const app = express();
app.use((req, res, next) => {
  if (!req.path.startsWith('/debug/')) received.push({ req, res });
  next();
});
app.get('/debug/requests', (req, res) => {
  res.json(received.map(({ req: r, res: s }) => {
    const q = r.originalUrl.indexOf('?');
    return {
      method: r.method,
      path: q < 0 ? r.originalUrl : r.originalUrl.slice(0, q),
      query: q < 0 ? '' : r.originalUrl.slice(q + 1),
      rpc_method: r.method === 'POST' && r.originalUrl.startsWith(JSONRPC_PATH) && typeof r.body?.method === 'string' ? r.body.method : null,
      a2a_version: r.get('A2A-Version') ?? null,
      content_type: r.get('Content-Type') ?? null,
      status: s.headersSent ? s.statusCode : null,
    };
  }));
});
app.delete('/debug/requests', (req, res) => {
  const cleared = received.length;
  received.length = 0;
  res.json({ cleared });
});

const server = http.createServer(app);
server.on('error', (err) => {
  console.error(`agent.mjs: ${err.message}`);
  process.exit(1);
});
server.listen(Number.parseInt(opts.port, 10), opts.host, () => {
  const { port } = server.address();
  const base = `http://${opts.host}:${port}`;
  const requestHandler = new DefaultRequestHandler(buildCard(base), new InMemoryTaskStore(),
    new EchoExecutor(Number.parseFloat(opts.interval)));
  const legacyCompat = opts.compat ? { enabled: true } : undefined;
  app.use(`/${AGENT_CARD_PATH}`, agentCardHandler({ agentCardProvider: requestHandler, legacyCompat }));
  app.use(JSONRPC_PATH, jsonRpcHandler({ requestHandler, userBuilder: UserBuilder.noAuthentication, legacyCompat }));
  app.use(REST_PREFIX, restHandler({ requestHandler, userBuilder: UserBuilder.noAuthentication, legacyCompat }));
  process.stdout.write(`${base}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.closeAllConnections?.();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
