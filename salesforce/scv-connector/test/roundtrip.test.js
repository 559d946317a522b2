// The round trip against the real Presence Connector: `presence-connector serve` from the repository's .venv
// on a free port, a demo store in a temporary directory, and the real @salesforce/scv-connector-base.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PresenceVendorConnector } from '../src/presenceConnector.js';
import { FakeSalesforce } from './helpers/salesforce.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = process.env.PRESENCE_CONNECTOR_BIN || path.join(REPO, '.venv', 'bin', 'presence-connector');
const AVAILABLE_ID = '0N5000000000001AAA';
const BREAK_ID = '0N5000000000002AAA';

let dir;
let env;
let serverProcess;
let baseUrl;
let token;
let serverErrors = '';

function cli(...args) {
    return execFileSync(CLI, args, { env, encoding: 'utf8' });
}

function freePort() {
    return new Promise((resolve, reject) => {
        const probe = net.createServer().once('error', reject);
        probe.listen(0, '127.0.0.1', () => {
            const { port } = probe.address();
            probe.close(() => resolve(port));
        });
    });
}

async function waitForHealth(timeoutMs = 20000) {
    const until = Date.now() + timeoutMs;
    for (;;) {
        try {
            if ((await fetch(`${baseUrl}/healthz`)).ok) {
                return;
            }
        } catch {
            // not listening yet
        }
        if (Date.now() > until || serverProcess.exitCode !== null) {
            throw new Error(`presence-connector serve did not come up on ${baseUrl}:\n${serverErrors}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

async function api(method, url, body) {
    const response = await fetch(`${baseUrl}${url}`, {
        method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined
    });
    assert.ok(response.ok, `${method} ${url} -> ${response.status}`);
    return response.json();
}

before(async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run 'make install' in the repository first`);
    dir = mkdtempSync(path.join(os.tmpdir(), 'scv-roundtrip-'));
    // the default preset, with two states mapped to Omni-Channel (by DeveloperName, and with an Id)
    const preset = readFileSync(path.join(REPO, 'presence_configs', 'default.yaml'), 'utf8')
        .replace('{id: ready, label: Ready for Calls, status: 1, colour: "#2e7d32"}',
            '{id: ready, label: Ready for Calls, status: 1, colour: "#2e7d32", adapters: {omni_channel: Available}}')
        .replace('{id: break, label: Break, status: 3, colour: "#f9a825"}',
            `{id: break, label: Break, status: 3, colour: "#f9a825", adapters: {omni_channel: {developer_name: Break, id: ${BREAK_ID}}}}`);
    assert.match(preset, /omni_channel: Available/);
    writeFileSync(path.join(dir, 'omni.yaml'), preset);
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    env = { ...process.env, CONNECTOR_INSTANCE_PATH: dir, CONNECTOR_DATABASE_URL: `sqlite:///${dir}/connector.db`,
        CONNECTOR_PRESENCE_CONFIG: path.join(dir, 'omni.yaml'), PORT: String(port) };
    cli('init-db', '--demo');
    token = cli('tokens', 'create', '--role', 'integration', '--name', 'scv-roundtrip').trim().split('\n').pop();
    serverProcess = spawn(CLI, ['serve', '--port', String(port)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    serverProcess.stderr.on('data', (chunk) => { serverErrors = (serverErrors + chunk).slice(-4000); });
    await waitForHealth();
});

after(() => {
    serverProcess?.kill();
    if (dir) {
        rmSync(dir, { recursive: true, force: true });
    }
});

test('status changes travel both ways between the SCV connector and the running Presence Connector', async () => {
    const salesforce = new FakeSalesforce();
    const connector = new PresenceVendorConnector({ retryMs: 200 });
    try {
        const ready = await salesforce.setUp(connector, {
            '/presenceConnector/connectorUrl': baseUrl,
            '/presenceConnector/connectorToken': token,
            userName: 'edred@acme.example',
            userPresenceStatuses: JSON.stringify({ [AVAILABLE_ID]: { statusId: AVAILABLE_ID, statusName: 'Available',
                hasChannels: true, isOffline: false } })
        });
        assert.equal(ready.type, 'CONNECTOR_READY', JSON.stringify(ready));

        // Salesforce -> connector: the rep picks "Break" in Omni-Channel
        assert.deepEqual(await salesforce.setStatus({ statusId: BREAK_ID, statusApiName: 'Break', statusName: 'Break' }),
            { success: true });
        const after = await api('GET', '/api/v1/agents/edred/presence');
        assert.equal(after.state.id, 'break');

        // connector -> Salesforce: the PBX puts the agent back to Ready; SCV publishes SET_AGENT_STATUS
        const mark = salesforce.received.length;
        await api('PUT', '/api/v1/agents/edred/presence', { state: 'ready', source: 'pbx' });
        assert.deepEqual(await salesforce.event('SET_AGENT_STATUS', 10000, mark), { statusId: AVAILABLE_ID });

        // connector -> Salesforce: a logout in the connector reaches SCV as LOGOUT_RESULT
        const beforeLogout = salesforce.received.length;
        await api('POST', '/api/v1/agents/edred/logout', { logon_source: 'API', source: 'api' });
        assert.deepEqual(await salesforce.event('LOGOUT_RESULT', 10000, beforeLogout), { success: true, loginFrameHeight: 350 });
    } finally {
        connector.stop();
        salesforce.close();
    }
});
