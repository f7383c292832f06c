/**
 * A reader for the txtar text archives Go's tests keep their cases in
 * (golang.org/x/tools/txtar): a free comment, then files, each introduced by a
 * line `-- NAME --`. Works on bytes so that test data with invalid UTF-8 stays
 * intact.
 */

export interface TxtarFile {
  name: string;
  data: Buffer;
}

export interface Txtar {
  comment: Buffer;
  files: TxtarFile[];
}

const MARKER = Buffer.from("-- ");
const MARKER_END = Buffer.from(" --");
const NEWLINE_MARKER = Buffer.from("\n-- ");

/** The file name if `data` starts with a marker line, and the bytes after that line. */
function markerAt(data: Buffer): { name: string; after: Buffer } | undefined {
  if (!data.subarray(0, MARKER.length).equals(MARKER)) return undefined;
  let line: Buffer = data;
  let after: Buffer = Buffer.alloc(0);
  const nl = data.indexOf(0x0a);
  if (nl >= 0) {
    line = data.subarray(0, nl);
    after = data.subarray(nl + 1);
  }
  if (line.length < MARKER.length + MARKER_END.length) return undefined;
  if (!line.subarray(line.length - MARKER_END.length).equals(MARKER_END)) return undefined;
  const name = line
    .subarray(MARKER.length, line.length - MARKER_END.length)
    .toString("utf8")
    .trim();
  // An empty name is not a marker (txtar treats the line as content).
  return name === "" ? undefined : { name, after };
}

/** Adds the final newline txtar guarantees every non-empty section ends with. */
function withFinalNewline(data: Buffer): Buffer {
  if (data.length === 0 || data[data.length - 1] === 0x0a) return data;
  return Buffer.concat([data, Buffer.from("\n")]);
}

/** Splits data at the next marker line: the bytes before it, the marker's name and the rest. */
function nextSection(data: Buffer): { before: Buffer; name?: string; after: Buffer } {
  let i = 0;
  for (;;) {
    const m = markerAt(data.subarray(i));
    if (m) return { before: data.subarray(0, i), name: m.name, after: m.after };
    const j = data.indexOf(NEWLINE_MARKER, i);
    if (j < 0) return { before: withFinalNewline(data), after: Buffer.alloc(0) };
    i = j + 1;
  }
}

export function parseTxtar(data: Buffer): Txtar {
  const first = nextSection(data);
  const files: TxtarFile[] = [];
  let name = first.name;
  let rest = first.after;
  while (name !== undefined) {
    const s = nextSection(rest);
    files.push({ name, data: s.before });
    name = s.name;
    rest = s.after;
  }
  return { comment: first.before, files };
}
