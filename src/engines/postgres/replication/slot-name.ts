/**
 * The physical replication slot datakeep keeps for a node on whichever server is its primary. PostgreSQL allows only
 * lower-case letters, digits and underscores (at most 63 bytes), so the node name is folded into that alphabet; the
 * prefix tells datakeep's slots from the ones an operator made.
 */
export function replicationSlotName(nodeName: string): string {
  const folded = nodeName.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return `datakeep_${folded}`.slice(0, 63);
}
