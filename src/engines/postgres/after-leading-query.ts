import pg from 'pg';

interface ProtocolConnection {
  readonly stream: { cork?: () => void; uncork?: () => void };
  parse(message: { text: string }): void;
  bind(message: Record<string, never>): void;
  execute(message: Record<string, never>): void;
}

interface QueryInternals {
  submit(connection: ProtocolConnection): Error | null;
  handleCommandComplete(message: unknown, connection: ProtocolConnection): void;
}

/**
 * Runs a statement with parameters after statements without (`BEGIN`, `SET LOCAL ...`) in one round trip: all of them
 * go out in one write as Parse/Bind/Execute of the extended protocol, ended by a single Sync. After an error the
 * server skips everything up to that Sync, so when a leading statement fails the statement behind it never runs (a
 * failed BEGIN can never let it run in autocommit). node-postgres sends one query per round trip, so this is its
 * Query with the leading messages written first and their CommandComplete answers kept out of the result.
 */
export function queryAfterLeading(client: pg.ClientBase, leading: readonly string[], text: string, values: readonly unknown[] | undefined): Promise<pg.QueryResult> {
  const query = new pg.Query({ text, values: values as unknown[] | undefined, queryMode: 'extended' } as pg.QueryConfig);
  const internals = query as unknown as QueryInternals;
  const submit = internals.submit.bind(query);
  const complete = internals.handleCommandComplete.bind(query);
  let toSkip = leading.length;
  internals.submit = (connection) => {
    connection.stream.cork?.();
    try {
      for (const statement of leading) {
        connection.parse({ text: statement });
        connection.bind({});
        connection.execute({});
      }
      return submit(connection);
    } finally {
      connection.stream.uncork?.();
    }
  };
  internals.handleCommandComplete = (message, connection) => {
    if (toSkip > 0) {
      toSkip -= 1;
      return;
    }
    complete(message, connection);
  };
  return new Promise((resolve, reject) => {
    query.on('error', reject);
    query.on('end', (result: pg.QueryResult) => resolve(result));
    client.query(query);
  });
}
