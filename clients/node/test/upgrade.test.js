// A live upgrade seen from an unchanged @hyperledger/fabric-gateway application: while clients keep
// submitting, the contract is upgraded with a canary, the canary is advanced, aborted, rolled out again
// and promoted. The clients must see no error at all and every transaction must commit VALID.

'use strict';

const assert = require('node:assert');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const { after, before, describe, it } = require('node:test');
const { cambium, connectGateway, REPO, startNetwork } = require('./harness');

const CHANNEL = 'mychannel';
const CONTRACT = 'live';
const PACKAGE = path.join(REPO, 'contracts', 'asset-transfer');
const CLIENTS = 4;
const utf8 = new TextDecoder();

/** Clients that submit CreateAsset in a loop until stopped, recording every outcome. */
function submitLoops(contract, clients) {
    const state = { running: true, submitted: 0, valid: 0, errors: [], invalid: [], ids: [] };
    const loop = async (client) => {
        for (let n = 0; state.running; n++) {
            const id = `live-${client}-${n}`;
            try {
                const commit = await contract.submitAsync('CreateAsset', {
                    arguments: [id, 'blue', '1', `owner-${client}`, '10'],
                });
                state.submitted++;
                const status = await commit.getStatus();
                if (status.successful) {
                    state.valid++;
                    state.ids.push(id);
                } else {
                    state.invalid.push({ id, code: status.code, tx: commit.getTransactionId() });
                }
            } catch (err) {
                const details = (err.details || []).map((d) => d.message).join('; ');
                state.errors.push(`${id}: ${err.message} ${details}`);
            }
        }
    };
    const done = Promise.all(Array.from({ length: clients }, (_, c) => loop(c)));
    return {
        state,
        async stop() {
            state.running = false;
            await done;
            return state;
        },
    };
}

describe('a live upgrade under load, seen by the Fabric Gateway client', () => {
    let network;
    let conn;
    let contract;

    before(async () => {
        network = await startNetwork();
        cambium(['contract', 'deploy', PACKAGE, '--name', CONTRACT, '--label', 'live_1',
            '--data-dir', network.dataDir]);
        conn = connectGateway(network.dataDir, 'Org1', 'User1');
        contract = conn.gateway.getNetwork(CHANNEL).getContract(CONTRACT);
    });

    after(async () => {
        conn?.gateway.close();
        conn?.client.close();
        await network?.stop();
    });

    it('upgrade with a canary, advance, abort, re-roll and promote: no client error, every tx VALID', async () => {
        const dir = ['--data-dir', network.dataDir];
        const loops = submitLoops(contract, CLIENTS);
        const steps = [];
        const step = async (args) => {
            await sleep(700);
            const before = loops.state.submitted;
            cambium(['contract', ...args, ...dir]);
            steps.push({ step: args.slice(0, 3).join(' '), submittedBefore: before });
        };
        try {
            await step(['upgrade', CONTRACT, '--package', PACKAGE, '--version', '2.0', '--label', 'live_2',
                '--canary', '10%']);
            const status = JSON.parse(cambium(['contract', 'rollout', 'status', CONTRACT, '--json', ...dir]));
            assert.strictEqual(status.status.plan.weight_percent, 10, JSON.stringify(status));
            await step(['rollout', 'advance', CONTRACT, '--weight', '50']);
            await step(['rollout', 'abort', CONTRACT]);
            await step(['upgrade', CONTRACT, '--package', PACKAGE, '--version', '3.0', '--label', 'live_3',
                '--canary', '20%']);
            await step(['rollout', 'promote', CONTRACT]);
            await sleep(700);
        } finally {
            await loops.stop();
        }
        const state = loops.state;
        assert.deepStrictEqual(state.errors, [], `clients saw errors during ${JSON.stringify(steps)}`);
        assert.deepStrictEqual(state.invalid, [], 'every submitted transaction commits VALID');
        assert.ok(state.submitted >= 5 * CLIENTS, `the clients kept submitting (${state.submitted})`);
        assert.strictEqual(state.valid, state.submitted);

        const history = JSON.parse(cambium(['contract', 'history', CONTRACT, '--json', ...dir]));
        const actions = history.filter((e) => e.valid).map((e) => e.action);
        for (const expected of ['commit', 'rollout-advance', 'rollout-abort', 'rollout-promote']) {
            assert.ok(actions.includes(expected), `history has ${expected}: ${actions}`);
        }
        const last = state.ids[state.ids.length - 1];
        const asset = JSON.parse(utf8.decode(await contract.evaluateTransaction('ReadAsset', last)));
        assert.strictEqual(asset.ID, last);
    });
});
