// `npm run proto`: regenerates proto/gen from proto/ with ts-proto. The output
// is committed; CI regenerates it and fails on any difference.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const protoDir = path.join(root, "proto");
const out = path.join(protoDir, "gen");
const files = fs
  .readdirSync(protoDir, { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".proto"))
  .sort();

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
execFileSync(
  path.join(root, "node_modules/.bin/protoc"),
  [
    `--plugin=protoc-gen-ts_proto=${path.join(root, "node_modules/.bin/protoc-gen-ts_proto")}`,
    `--ts_proto_out=${out}`,
    "--ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,forceLong=number,importSuffix=.js,useOptionals=messages,env=node",
    `-I${protoDir}`,
    ...files,
  ],
  { stdio: "inherit" },
);
process.stdout.write(`generated ${files.length} file(s) into proto/gen\n`);
