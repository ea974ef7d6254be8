// Calls an OpenAI-compatible server (the gateway) with the official `openai` npm package.
//
// usage: RIGHTFIT_TEST_NODE_MODULES=DIR node openai_client.mjs [--tools[=required|=named]] BASE_URL API_KEY MODEL [BAD_KEY]
//
// Where `openai` comes from: RIGHTFIT_TEST_NODE_MODULES names a node_modules holding it
// (scripts/test-tools installs the version pinned in package-lock.json beside this file and prints
// the variable). ES modules ignore NODE_PATH, and this file does not live next to that node_modules,
// so it imports the package's ES entry by absolute path: DIR/openai/index.mjs. The working
// directory does not matter.
//
// BASE_URL is the server's root, without /v1 (http://127.0.0.1:8787); the script adds /v1. Calls,
// in this order, one JSON line each on stdout:
//   plain      chat.completions.create, whole answer
//   stream     the same streamed, stream_options: {include_usage: true}
//   models     models.list(); "ids" lists the model ids
//   not_found  model "no-such-model": must fail with OpenAI.NotFoundError (404)
//   bad_key    only when BAD_KEY is given: a client with that key must fail with
//              OpenAI.AuthenticationError (401)
// With --tools, the calls are instead (one function offered, get_weather(city)):
//   tools        chat.completions.create({tools}), whole answer
//   tools_stream client.chat.completions.stream({tools}): chunks read to the end, then
//                finalChatCompletion(), whose tool calls the SDK rebuilt from the deltas
//   tool_result  a second turn: the assistant's call (from "tools"; call_1 if it failed) and a
//                tool message answering it, whole answer
//   where tool_calls lists each call as {id, type, name, arguments (parsed JSON)} and
//   argument_deltas counts the chunks that carried tool_calls deltas.
//   --tools=required forces one call in "tools" and "tools_stream" (tool_choice: 'required',
//   parallel_tool_calls: false), --tools=named the same by name ({type: 'function', function:
//   {name: 'get_weather'}}); "tool_result" stays under 'auto' (the model answers as it likes).
// Fields as openai_client.py prints them: call, text, usage ({prompt_tokens, completion_tokens,
// total_tokens} or null), finish_reason, chunks, ids, id, model, headers (whole answers and
// errors), and on an SDK error error_status, error_type (the SDK's class, e.g. NotFoundError),
// error_body (the `error` object of the server's JSON, as the SDK keeps it) and message. A call
// whose outcome is not the one listed gets an "unexpected" field; the test asserts that no line
// has one. The script never stops early and exits 0 unless its arguments or the package are
// wrong (2). No retries (maxRetries: 0), 300 s timeout per call (a guard against hangs, not a speed bound).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const MESSAGES = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Say hello.' },
];
// Bounds a real model's answer (the tests run SmolLM2 on 2 cores).
const MAX_TOKENS = 48;

function usage(args) {
  process.stderr.write(`usage: RIGHTFIT_TEST_NODE_MODULES=DIR node openai_client.mjs [--tools[=required|=named]] BASE_URL API_KEY MODEL [BAD_KEY]\n${args}\n`);
  process.exit(2);
}

const mode = process.argv[2] ?? '';
const toolsMode = mode === '--tools' || mode.startsWith('--tools=');
const choice = toolsMode ? mode.slice('--tools='.length) : '';
// The first turn's extra arguments, [whole, streamed], per --tools mode: by default
// tool_choice 'auto' whole and nothing streamed; a forced mode asks both for one call.
const forced = (toolChoice) => ({ tool_choice: toolChoice, parallel_tool_calls: false });
const TOOL_CHOICES = {
  '': [{ tool_choice: 'auto' }, {}],
  required: [forced('required'), forced('required')],
  named: [forced({ type: 'function', function: { name: 'get_weather' } }), forced({ type: 'function', function: { name: 'get_weather' } })],
};
const args = process.argv.slice(toolsMode ? 3 : 2);
if (args.length !== 3 && args.length !== 4) usage(`got ${args.length} arguments`);
if (!(choice in TOOL_CHOICES)) usage(`unknown tools mode ${mode}`);
const modules = process.env.RIGHTFIT_TEST_NODE_MODULES;
const entry = modules && join(modules, 'openai', 'index.mjs');
if (!entry || !existsSync(entry)) {
  usage(`RIGHTFIT_TEST_NODE_MODULES must name a node_modules with the openai package (${entry ?? 'unset'}): run scripts/test-tools`);
}
const { default: OpenAI } = await import(pathToFileURL(entry).href);

const [base, key, model, badKey] = args;
const baseURL = base.replace(/\/+$/, '') + '/v1';

function emit(call, fields) {
  process.stdout.write(JSON.stringify({ call, ...fields }) + '\n');
}

function usageOf(u) {
  if (!u) return null;
  return { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.total_tokens };
}

function headersOf(headers) {
  const out = {};
  if (headers && typeof headers.forEach === 'function') headers.forEach((v, k) => { out[k.toLowerCase()] = v; });
  return out;
}

// Runs fn() and prints what it returned, or the error. `expect` names the OpenAI error class the
// call must throw; undefined means it must succeed.
async function run(call, fn, expect) {
  let fields;
  try {
    fields = await fn();
    if (expect) fields.unexpected = `succeeded, expected ${expect}`;
  } catch (e) {
    if (e instanceof OpenAI.APIError) {
      // Every SDK error: status errors, connection errors, timeouts.
      const type = e.constructor.name;
      fields = {
        error_status: e.status ?? null,
        error_type: type,
        error_body: e.error ?? null,
        message: e.message,
        headers: headersOf(e.headers),
      };
      if (type !== expect) fields.unexpected = `${type}: ${e.message} (expected ${expect ?? 'success'})`;
    } else {
      // A broken answer the SDK could not read, or a bug here.
      fields = { unexpected: `${e?.constructor?.name}: ${e?.message ?? e}` };
    }
  }
  emit(call, fields);
}

function whole(client, model) {
  return async () => {
    const { data: r, response } = await client.chat.completions
      .create({ model, messages: MESSAGES, max_tokens: MAX_TOKENS })
      .withResponse();
    const choice = r.choices[0];
    return {
      text: choice.message.content,
      usage: usageOf(r.usage),
      finish_reason: choice.finish_reason,
      id: r.id,
      model: r.model,
      headers: headersOf(response.headers),
    };
  };
}

function streamed(client, model) {
  return async () => {
    const stream = await client.chat.completions.create({
      model,
      messages: MESSAGES,
      max_tokens: MAX_TOKENS,
      stream: true,
      stream_options: { include_usage: true },
    });
    const text = [];
    const ids = new Set();
    let u = null;
    let finish = null;
    let seen = null;
    for await (const chunk of stream) {
      ids.add(chunk.id);
      seen = chunk.model;
      if (chunk.usage) u = usageOf(chunk.usage);
      for (const choice of chunk.choices) {
        if (choice.delta?.content) text.push(choice.delta.content);
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    }
    return { text: text.join(''), usage: u, finish_reason: finish, chunks: text.length, ids: ids.size, model: seen };
  };
}

async function models(client) {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  return { ids };
}

const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'The current weather in a city.',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];
const TOOL_MESSAGES = [{ role: 'user', content: 'What is the weather in Paris?' }];

function callsOf(message) {
  return (message.tool_calls ?? []).map((c) => ({
    id: c.id,
    type: c.type,
    name: c.function.name,
    arguments: JSON.parse(c.function.arguments),
  }));
}

function toolWhole(client, model, messages, seen, extra = { tool_choice: 'auto' }) {
  return async () => {
    const r = await client.chat.completions.create({ model, messages, max_tokens: MAX_TOKENS, tools: TOOLS, ...extra });
    const choice = r.choices[0];
    seen.push(choice.message);
    return { text: choice.message.content, tool_calls: callsOf(choice.message), finish_reason: choice.finish_reason, usage: usageOf(r.usage) };
  };
}

function toolStreamed(client, model, extra) {
  return async () => {
    const stream = client.chat.completions.stream({ model, messages: TOOL_MESSAGES, max_tokens: MAX_TOKENS, tools: TOOLS, ...extra });
    let deltas = 0;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) if (choice.delta?.tool_calls?.length) deltas += 1;
    }
    const final = await stream.finalChatCompletion();
    const choice = final.choices[0];
    return { text: choice.message.content, tool_calls: callsOf(choice.message), finish_reason: choice.finish_reason, argument_deltas: deltas };
  };
}

const client = new OpenAI({ apiKey: key, baseURL, maxRetries: 0, timeout: 300_000 });
if (toolsMode) {
  const [wholeExtra, streamedExtra] = TOOL_CHOICES[choice];
  const seen = [];
  await run('tools', toolWhole(client, model, TOOL_MESSAGES, seen, wholeExtra));
  await run('tools_stream', toolStreamed(client, model, streamedExtra));
  const first = seen[0]?.tool_calls?.[0];
  const id = first?.id ?? 'call_1';
  const second = [
    ...TOOL_MESSAGES,
    { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: first?.function.arguments ?? '{"city": "Paris"}' } }] },
    { role: 'tool', tool_call_id: id, content: '18 C and sunny' },
  ];
  await run('tool_result', toolWhole(client, model, second, []));
  process.exit(0);
}
await run('plain', whole(client, model));
await run('stream', streamed(client, model));
await run('models', () => models(client));
await run('not_found', whole(client, 'no-such-model'), 'NotFoundError');
if (badKey !== undefined) {
  const bad = new OpenAI({ apiKey: badKey, baseURL, maxRetries: 0, timeout: 300_000 });
  await run('bad_key', whole(bad, model), 'AuthenticationError');
}
