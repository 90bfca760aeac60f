// Starts a Cambium network with `cambium up` in a fresh data directory and connects the official
// Fabric Gateway client to it, the way an application would: endpoints, TLS CA and identity all come
// from the connection profile that `cambium up` writes.
//
// Environment:
//   CAMBIUM_BIN   the cambium binary (default: target/debug/cambium in the repository)
//   CAMBIUM_PORT  first port of the block `cambium up` listens on (default: a random free block)

'use strict';

const assert = require('node:assert');
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const { connect, hash, signers } = require('@hyperledger/fabric-gateway');

const REPO = path.resolve(__dirname, '..', '..', '..');
const BIN = process.env.CAMBIUM_BIN || path.join(REPO, 'target', 'debug', 'cambium');
const READY_TIMEOUT_MS = 180_000;

function portFree(port) {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.once('error', () => resolve(false));
        server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
}

/** A block of ten consecutive free ports. */
async function freePortBlock() {
    if (process.env.CAMBIUM_PORT) {
        return Number(process.env.CAMBIUM_PORT);
    }
    for (let attempt = 0; attempt < 50; attempt++) {
        const base = 20000 + 10 * Math.floor(Math.random() * 3000);
        let free = true;
        for (let p = base; p < base + 10 && free; p++) {
            free = await portFree(p);
        }
        if (free) {
            return base;
        }
    }
    throw new Error('no block of 10 free ports found between 20000 and 50000');
}

function cambium(args, options = {}) {
    const result = spawnSync(BIN, args, { encoding: 'utf8', timeout: 300_000, ...options });
    if (result.error) {
        throw new Error(`cannot run ${BIN}: ${result.error.message}; build it with 'cargo build -p cambium'`);
    }
    if (result.status !== 0) {
        throw new Error(`cambium ${args.join(' ')} exited with ${result.status}:\n${result.stdout}\n${result.stderr}`);
    }
    return result.stdout;
}

/** Runs `cambium up` and resolves once it logs that it is ready. */
async function startNetwork() {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cambium-node-'));
    const basePort = await freePortBlock();
    const child = spawn(BIN, ['up', '--data-dir', dataDir, '--base-port', String(basePort)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
    });
    let output = '';
    await new Promise((resolve, reject) => {
        const timer = setTimeout(
            () => reject(new Error(`cambium up did not log 'ready' within ${READY_TIMEOUT_MS} ms:\n${output}`)),
            READY_TIMEOUT_MS,
        );
        const onData = (chunk) => {
            output += chunk.toString();
            if (/\bready\b/.test(output)) {
                clearTimeout(timer);
                resolve();
            }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`cambium up exited with ${code} before it was ready:\n${output}`));
        });
    });
    child.removeAllListeners('exit');
    const network = {
        dataDir,
        child,
        output: () => output,
        async stop() {
            if (child.exitCode === null) {
                child.kill('SIGINT');
                await new Promise((resolve) => {
                    const t = setTimeout(() => {
                        child.kill('SIGKILL');
                        resolve();
                    }, 20_000);
                    child.once('exit', () => {
                        clearTimeout(t);
                        resolve();
                    });
                });
            }
            fs.rmSync(dataDir, { recursive: true, force: true });
        },
    };
    child.stdout.on('data', (c) => { output += c.toString(); });
    child.stderr.on('data', (c) => { output += c.toString(); });
    return network;
}

function readPem(entry, baseDir) {
    if (!entry) {
        return undefined;
    }
    if (typeof entry === 'string') {
        return fs.readFileSync(path.resolve(baseDir, entry));
    }
    if (entry.pem) {
        return Buffer.from(entry.pem);
    }
    if (entry.path) {
        return fs.readFileSync(path.resolve(baseDir, entry.path));
    }
    return undefined;
}

/** The connection profile `cambium up` wrote. */
function loadProfile(dataDir) {
    const file = path.join(dataDir, 'connection-profile.json');
    assert.ok(fs.existsSync(file), `cambium up should write ${file}`);
    return { file, profile: JSON.parse(fs.readFileSync(file, 'utf8')) };
}

/**
 * Connects the Fabric Gateway client as `user` of `org` (key of `profile.organizations`) to the
 * org's first peer, with server-only TLS trusting the CA from the profile, as Caliper does.
 */
function connectGateway(dataDir, org, user) {
    const { file, profile } = loadProfile(dataDir);
    const baseDir = path.dirname(file);
    const orgEntry = profile.organizations[org];
    assert.ok(orgEntry, `profile has no organisation '${org}'; it has ${Object.keys(profile.organizations)}`);
    const peerName = orgEntry.peers[0];
    const peer = profile.peers[peerName];
    const url = new URL(peer.url);
    assert.strictEqual(url.protocol, 'grpcs:', 'cambium up serves TLS by default');
    const tlsRoot = readPem(peer.tlsCACerts, baseDir);
    const client = new grpc.Client(url.host, grpc.credentials.createSsl(tlsRoot), {
        'grpc.ssl_target_name_override': peer.grpcOptions?.['ssl-target-name-override'] || url.hostname,
    });
    // Cambium's own `clients` section lists every user's files; Fabric tools ignore it.
    const users = (profile.clients && profile.clients[org] && profile.clients[org].users) || {};
    const identityEntry = users[user];
    assert.ok(identityEntry, `profile has no user '${user}' for ${org}; it has ${Object.keys(users)}`);
    const certificate = readPem(identityEntry.cert, baseDir);
    const privateKey = crypto.createPrivateKey(readPem(identityEntry.key, baseDir));
    const gateway = connect({
        client,
        identity: { mspId: orgEntry.mspid, credentials: certificate },
        signer: signers.newPrivateKeySigner(privateKey),
        hash: hash.sha256,
        evaluateOptions: () => ({ deadline: Date.now() + 30_000 }),
        endorseOptions: () => ({ deadline: Date.now() + 30_000 }),
        submitOptions: () => ({ deadline: Date.now() + 30_000 }),
        commitStatusOptions: () => ({ deadline: Date.now() + 60_000 }),
    });
    return { gateway, client, profile };
}

module.exports = { BIN, REPO, cambium, startNetwork, connectGateway, loadProfile };
