// The ports `trackhouse start` gives the local Kafka broker: LOCAL_KAFKA_PORT and
// LOCAL_KAFKA_CONTROLLER_PORT when free; 0 means "any free port", and a taken port is replaced by
// a free one, with a notice that says which of the two happened.

export interface LocalPortsWanted {
  port: number;
  controllerPort: number;
}

export interface Notice {
  level: 'info' | 'warn';
  fields: Record<string, unknown>;
  message: string;
}

export interface LocalPorts {
  port: number;
  controllerPort: number;
  notices: Notice[];
}

export async function chooseLocalPorts(
  wanted: LocalPortsWanted,
  isFree: (port: number) => Promise<boolean>,
  anyFree: () => Promise<number>,
): Promise<LocalPorts> {
  const notices: Notice[] = [];
  const pick = async (variable: string, want: number, avoid: number | null): Promise<number> => {
    if (want === 0) {
      let port = await anyFree();
      while (port === avoid) port = await anyFree();
      notices.push({ level: 'info', fields: { port }, message: `${variable}=0: the local broker uses free port ${port}` });
      return port;
    }
    if (want !== avoid && (await isFree(want))) return want;
    let port = await anyFree();
    while (port === avoid) port = await anyFree();
    const why = want === avoid ? 'is the same as LOCAL_KAFKA_PORT' : 'is taken';
    notices.push({ level: 'warn', fields: { wanted: want, port }, message: `${variable}=${want} ${why}; the local broker uses free port ${port}` });
    return port;
  };
  const port = await pick('LOCAL_KAFKA_PORT', wanted.port, null);
  const controllerPort = await pick('LOCAL_KAFKA_CONTROLLER_PORT', wanted.controllerPort, port);
  return { port, controllerPort, notices };
}
