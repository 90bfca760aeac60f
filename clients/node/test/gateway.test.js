// The official @hyperledger/fabric-gateway client against `cambium up`, unchanged: submit, evaluate,
// async submit with commit status, contract errors, chaincode events, block events, and an MVCC conflict.

'use strict';

const assert = require('node:assert');
const path = require('node:path');
const { after, before, describe, it } = require('node:test');
const { CommitError, EndorseError, GatewayError } = require('@hyperledger/fabric-gateway');
const { cambium, connectGateway, REPO, startNetwork } = require('./harness');

const CHANNEL = 'mychannel';
const CONTRACT = 'asset-transfer';
const utf8 = new TextDecoder();

describe('fabric-gateway against cambium up', () => {
    let network;
    let conn;
    let contract;
    let gatewayNetwork;

    before(async () => {
        network = await startNetwork();
        cambium(['contract', 'deploy', path.join(REPO, 'contracts', 'asset-transfer'), '--name', CONTRACT,
            '--data-dir', network.dataDir]);
        conn = connectGateway(network.dataDir, 'Org1', 'User1');
        gatewayNetwork = conn.gateway.getNetwork(CHANNEL);
        contract = gatewayNetwork.getContract(CONTRACT);
    });

    after(async () => {
        conn?.gateway.close();
        conn?.client.close();
        await network?.stop();
    });

    it('submits a transaction and evaluates the result', async () => {
        await contract.submitTransaction('CreateAsset', 'asset-node-1', 'blue', '5', 'Tomoko', '300');
        const bytes = await contract.evaluateTransaction('ReadAsset', 'asset-node-1');
        const asset = JSON.parse(utf8.decode(bytes));
        assert.strictEqual(asset.ID, 'asset-node-1');
        assert.strictEqual(asset.Owner, 'Tomoko');
        assert.strictEqual(Number(asset.AppraisedValue), 300);
    });

    it('submits asynchronously and reports the commit status', async () => {
        const commit = await contract.submitAsync('CreateAsset', {
            arguments: ['asset-node-2', 'red', '7', 'Max', '700'],
        });
        assert.ok(commit.getTransactionId().length === 64);
        const status = await commit.getStatus();
        assert.strictEqual(status.successful, true);
        assert.strictEqual(status.code, 0);
        assert.ok(status.blockNumber > 0n);
    });

    it('passes a contract error to the client with its message', async () => {
        await assert.rejects(
            contract.submitTransaction('CreateAsset', 'asset-node-1', 'green', '1', 'Someone', '1'),
            (err) => {
                assert.ok(err instanceof EndorseError, `expected EndorseError, got ${err}`);
                const text = [err.message, ...err.details.map((d) => d.message)].join(' ');
                assert.match(text, /the asset asset-node-1 already exists/);
                return true;
            },
        );
        await assert.rejects(contract.evaluateTransaction('ReadAsset', 'no-such-asset'), (err) => {
            assert.ok(err instanceof GatewayError, `expected GatewayError, got ${err}`);
            const text = [err.message, ...err.details.map((d) => d.message)].join(' ');
            assert.match(text, /the asset no-such-asset does not exist/);
            return true;
        });
    });

    it('delivers chaincode events', async () => {
        await contract.submitTransaction('CreateAsset', 'asset-node-ev', 'white', '1', 'Ann', '10');
        const events = await gatewayNetwork.getChaincodeEvents(CONTRACT);
        const eventIter = events[Symbol.asyncIterator]();
        try {
            const commit = await contract.submitAsync('TransferAsset', { arguments: ['asset-node-ev', 'Bob'] });
            assert.strictEqual(utf8.decode(commit.getResult()), 'Ann');
            const status = await commit.getStatus();
            assert.ok(status.successful);
            const { value: event } = await eventIter.next();
            assert.strictEqual(event.eventName, 'TransferAsset');
            assert.strictEqual(event.chaincodeName, CONTRACT);
            assert.strictEqual(event.transactionId, commit.getTransactionId());
            assert.strictEqual(event.blockNumber, status.blockNumber);
            assert.strictEqual(JSON.parse(utf8.decode(event.payload)).Owner, 'Bob');
        } finally {
            events.close();
        }
    });

    it('delivers block and filtered block events', async () => {
        const blocks = await gatewayNetwork.getBlockEvents();
        const filtered = await gatewayNetwork.getFilteredBlockEvents();
        const blockIter = blocks[Symbol.asyncIterator]();
        const filteredIter = filtered[Symbol.asyncIterator]();
        try {
            const commit = await contract.submitAsync('CreateAsset', {
                arguments: ['asset-node-blk', 'black', '2', 'Cy', '20'],
            });
            const status = await commit.getStatus();
            assert.ok(status.successful);
            let block;
            do {
                ({ value: block } = await blockIter.next());
            } while (BigInt(block.getHeader().getNumber()) < status.blockNumber);
            assert.strictEqual(BigInt(block.getHeader().getNumber()), status.blockNumber);
            assert.ok(block.getData().getDataList().length >= 1);
            let fb;
            do {
                ({ value: fb } = await filteredIter.next());
            } while (BigInt(fb.getNumber()) < status.blockNumber);
            const txs = fb.getFilteredTransactionsList();
            const mine = txs.find((t) => t.getTxid() === commit.getTransactionId());
            assert.ok(mine, 'the filtered block lists the transaction');
            assert.strictEqual(mine.getTxValidationCode(), 0);
        } finally {
            blocks.close();
            filtered.close();
        }
    });

    it('commits exactly one of two conflicting transactions', async () => {
        await contract.submitTransaction('CreateAsset', 'asset-node-mvcc', 'gold', '3', 'Dee', '30');
        // Endorse both transfers against the same state before either is submitted.
        const first = contract.newProposal('TransferAsset', { arguments: ['asset-node-mvcc', 'Eve'] });
        const second = contract.newProposal('TransferAsset', { arguments: ['asset-node-mvcc', 'Fay'] });
        const [tx1, tx2] = [await first.endorse(), await second.endorse()];
        const [c1, c2] = [await tx1.submit(), await tx2.submit()];
        const statuses = [await c1.getStatus(), await c2.getStatus()];
        const valid = statuses.filter((s) => s.successful);
        const conflicted = statuses.filter((s) => !s.successful);
        assert.strictEqual(valid.length, 1, `statuses: ${JSON.stringify(statuses, (_, v) => typeof v === 'bigint' ? String(v) : v)}`);
        assert.strictEqual(conflicted.length, 1);
        assert.strictEqual(conflicted[0].code, 11, 'MVCC_READ_CONFLICT');
        // submitTransaction surfaces the same failure as a CommitError.
        const third = await contract.newProposal('TransferAsset', { arguments: ['asset-node-mvcc', 'Gus'] }).endorse();
        const fourth = await contract.newProposal('TransferAsset', { arguments: ['asset-node-mvcc', 'Hal'] }).endorse();
        await (await third.submit()).getStatus();
        const late = await fourth.submit();
        const lateStatus = await late.getStatus();
        assert.strictEqual(lateStatus.code, 11);
        assert.ok(CommitError, 'CommitError is exported by the client');
    });
});
