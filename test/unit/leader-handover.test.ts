// A node elected by a peer that has already dropped the dead leader drops it
// too when it has not heard it for two heartbeats: its first heartbeat as
// leader (what the REPL prints as "Known nodes") must not list the dead node.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Membership } from '../../src/membership/machine.js';
import { CLUSTER_NAME, type Gossip, type NodeInfo } from '../../src/protocol/schemas.js';

const A: NodeInfo = { id: '127.0.0.1:8765', joined: 1 };
const B: NodeInfo = { id: '127.0.0.1:9876', joined: 2 };
const C: NodeInfo = { id: '127.0.0.1:8697', joined: 3 };
const HEARTBEAT = 200;

function from(sender: NodeInfo, leader: string, term: number, nodes: NodeInfo[]): Gossip {
  return { cluster: CLUSTER_NAME, from: sender, leader, term, replicationFactor: 2, nodes };
}

/** C, following leader A at term 1, hears A last at `aLastHeard` and B's election of C at `electedAt`. */
function electedByB(aLastHeard: number, electedAt: number): Membership {
  const machine = new Membership(
    { self: C, replicationFactor: 2, heartbeatIntervalMs: HEARTBEAT, failureTimeoutMs: 1500, clusterId: null },
    { now: 0, term: 1, leader: A.id, peers: [A.id, B.id] },
  );
  machine.tick(0);
  machine.receive(0, from(B, A.id, 1, [A, B, C]));
  machine.receive(aLastHeard, from(A, A.id, 1, [A, B, C]));
  machine.receive(electedAt, from(B, C.id, 2, [B, C]));
  return machine;
}

describe('leader handover', () => {
  it('drops the node its elector dropped when it has not heard it for two heartbeats', () => {
    const machine = electedByB(100, 1700);
    assert.equal(machine.status().leader, C.id);
    assert.deepEqual([...machine.aliveIds()].sort(), [B.id, C.id].sort());
  });

  it('keeps a node it heard recently, whatever the elector says', () => {
    const machine = electedByB(1600, 1700);
    assert.equal(machine.status().leader, C.id);
    assert.deepEqual([...machine.aliveIds()].sort(), [A.id, B.id, C.id].sort());
  });
});
