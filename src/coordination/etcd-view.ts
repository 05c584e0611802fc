// What a node concludes from one linearizable read of its cluster's member
// keys in etcd. Pure, so the election rule is unit-tested on its own.
//
// Every node keeps one key under its lease; the key created first (lowest
// create revision) among those alive leads, as in etcd's own election recipe.
// That revision is the term: a later leader's key was created after every key
// that led before it, so terms only grow, and a key is deleted only when its
// lease ends, so no one else leads while the leader's lease lasts.
import { EtcdMemberRecord, checker, type NodeId, type NodeInfo, type RepairStatus } from '../protocol/schemas.js';
import { compareNodeIds } from '../common/address.js';

const isMemberRecord = checker(EtcdMemberRecord);

export interface MemberKey {
  value: string;
  createRevision: number;
}

export interface EtcdView {
  /** In join order, as gossip lists them. */
  nodes: NodeInfo[];
  leader: NodeId | null;
  /** The leader key's create revision; 0 without a leader. */
  term: number;
  repairs: Map<NodeId, RepairStatus | undefined>;
  /** Create revision of each node's key. */
  revisions: Map<NodeId, number>;
}

export function readView(keys: readonly MemberKey[]): EtcdView {
  const members: { record: EtcdMemberRecord; createRevision: number }[] = [];
  for (const key of keys) {
    let record: unknown;
    try {
      record = JSON.parse(key.value);
    } catch {
      continue;
    }
    // A key that is not a member record (written by hand, or by another version) takes no part.
    if (isMemberRecord(record)) members.push({ record, createRevision: key.createRevision });
  }
  let first: (typeof members)[number] | undefined;
  for (const member of members) if (!first || member.createRevision < first.createRevision) first = member;
  const nodes = members.map((member) => member.record.node).sort((a, b) => a.joined - b.joined || compareNodeIds(a.id, b.id));
  return {
    nodes,
    leader: first?.record.node.id ?? null,
    term: first?.createRevision ?? 0,
    repairs: new Map(members.map((member) => [member.record.node.id, member.record.repair])),
    revisions: new Map(members.map((member) => [member.record.node.id, member.createRevision])),
  };
}
