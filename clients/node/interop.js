#!/usr/bin/env node
// Independent-bytes checks between Cambium and the official Hyperledger Fabric Node libraries.
//
// The Rust tests run this script; it never reuses Cambium code. Two commands:
//
//   sign-proposal --cert PEM --key PEM --msp-id ID --channel CH --chaincode CC --function FN
//                 [--arg A]... [--transient K=V]... --out FILE
//       Builds and signs a proposal with @hyperledger/fabric-gateway (offline signing flow) and
//       writes the SignedProposal bytes to FILE. Prints a JSON summary on stdout.
//
//   verify-envelope --in FILE
//       Decodes a common.Envelope with @hyperledger/fabric-protos, checks the creator's
//       signature over the payload with Node's crypto, checks the signature is low-S and that
//       the transaction ID is SHA-256(nonce || creator). Prints a JSON summary; exits 1 if any
//       check fails.

'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const grpc = require('@grpc/grpc-js');
const { connect, signers } = require('@hyperledger/fabric-gateway');
const { common, gateway, msp } = require('@hyperledger/fabric-protos');

// Order of the P-256 group; a low-S signature has s <= N / 2.
const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

function parseArgs(argv) {
    const opts = { arg: [], transient: [] };
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        if (!flag.startsWith('--')) {
            throw new Error(`unexpected argument '${flag}'`);
        }
        const name = flag.slice(2);
        const value = argv[++i];
        if (value === undefined) {
            throw new Error(`${flag} needs a value`);
        }
        if (Array.isArray(opts[name])) {
            opts[name].push(value);
        } else {
            opts[name] = value;
        }
    }
    return opts;
}

function required(opts, name) {
    if (opts[name] === undefined) {
        throw new Error(`missing --${name}`);
    }
    return opts[name];
}

async function signProposal(opts) {
    const certificate = fs.readFileSync(required(opts, 'cert'));
    const privateKey = crypto.createPrivateKey(fs.readFileSync(required(opts, 'key')));
    const signer = signers.newPrivateKeySigner(privateKey);
    // The client is never used to send anything: offline signing only builds bytes.
    const client = new grpc.Client('127.0.0.1:1', grpc.credentials.createInsecure());
    const gw = connect({ client, identity: { mspId: required(opts, 'msp-id'), credentials: certificate } });
    try {
        const contract = gw.getNetwork(required(opts, 'channel')).getContract(required(opts, 'chaincode'));
        const transientData = {};
        for (const kv of opts.transient) {
            const eq = kv.indexOf('=');
            transientData[kv.slice(0, eq)] = Buffer.from(kv.slice(eq + 1));
        }
        const proposal = contract.newProposal(required(opts, 'function'), {
            arguments: opts.arg,
            transientData,
        });
        proposal.setSignature(await signer(proposal.getDigest()));
        // getBytes() serialises the gateway.ProposedTransaction; the SignedProposal is inside.
        const proposed = gateway.ProposedTransaction.deserializeBinary(proposal.getBytes());
        const signedProposal = proposed.getProposal().serializeBinary();
        fs.writeFileSync(required(opts, 'out'), signedProposal);
        console.log(JSON.stringify({ txId: proposal.getTransactionId(), bytes: signedProposal.length }));
    } finally {
        gw.close();
        client.close();
    }
}

function derSignatureS(der) {
    // SEQUENCE { INTEGER r, INTEGER s }, short-form lengths (P-256 signatures are < 128 bytes).
    if (der[0] !== 0x30 || der[2] !== 0x02) {
        throw new Error('signature is not a DER ECDSA signature');
    }
    const rLen = der[3];
    const sTag = 4 + rLen;
    if (der[sTag] !== 0x02) {
        throw new Error('signature is not a DER ECDSA signature');
    }
    const sLen = der[sTag + 1];
    return BigInt('0x' + Buffer.from(der.slice(sTag + 2, sTag + 2 + sLen)).toString('hex'));
}

function verifyEnvelope(opts) {
    const envelope = common.Envelope.deserializeBinary(fs.readFileSync(required(opts, 'in')));
    const payloadBytes = envelope.getPayload_asU8();
    const signature = envelope.getSignature_asU8();
    const payload = common.Payload.deserializeBinary(payloadBytes);
    const header = payload.getHeader();
    const channelHeader = common.ChannelHeader.deserializeBinary(header.getChannelHeader_asU8());
    const signatureHeader = common.SignatureHeader.deserializeBinary(header.getSignatureHeader_asU8());
    const creatorBytes = signatureHeader.getCreator_asU8();
    const creator = msp.SerializedIdentity.deserializeBinary(creatorBytes);
    const cert = new crypto.X509Certificate(Buffer.from(creator.getIdBytes_asU8()));

    const failures = [];
    if (!crypto.verify('sha256', payloadBytes, cert.publicKey, signature)) {
        failures.push('signature does not verify against the creator certificate');
    }
    if (derSignatureS(signature) > P256_N / 2n) {
        failures.push('signature is high-S');
    }
    const nonce = signatureHeader.getNonce_asU8();
    const expectedTxId = crypto.createHash('sha256').update(nonce).update(creatorBytes).digest('hex');
    if (channelHeader.getTxId() !== expectedTxId) {
        failures.push(`tx_id ${channelHeader.getTxId()} is not SHA-256(nonce || creator) = ${expectedTxId}`);
    }
    console.log(JSON.stringify({
        ok: failures.length === 0,
        failures,
        mspId: creator.getMspid(),
        channelId: channelHeader.getChannelId(),
        txId: channelHeader.getTxId(),
        type: channelHeader.getType(),
        subject: cert.subject,
    }));
    if (failures.length > 0) {
        process.exitCode = 1;
    }
}

async function main() {
    const [command, ...rest] = process.argv.slice(2);
    const opts = parseArgs(rest);
    switch (command) {
        case 'sign-proposal':
            await signProposal(opts);
            break;
        case 'verify-envelope':
            verifyEnvelope(opts);
            break;
        default:
            throw new Error(`unknown command '${command}'; use sign-proposal or verify-envelope`);
    }
}

main().catch((err) => {
    console.error(`interop.js: ${err.message}`);
    process.exit(2);
});
