#!/bin/sh
# `npm start`: the embedded default. Builds only what changed, then becomes the broker (exec), so
# that a signal sent to `npm start` reaches the broker and nothing is left holding the port.
set -e
cd "$(dirname "$0")/.."
if [ ! -f src/generated/prisma/client.ts ] || [ prisma/schema.prisma -nt src/generated/prisma/client.ts ]; then
  echo "generating the Prisma client…"
  npm run -s prisma:generate >/dev/null
fi
if [ -f dist/.tsbuildinfo-dev ]; then echo "building what changed…"; else echo "building the broker (the first build takes a while; later starts rebuild only what changed)…"; fi
node node_modules/typescript/bin/tsc -p tsconfig.dev.json
if [ -f scripts/console-build.mjs ]; then node scripts/console-build.mjs; fi
exec node dist/src/embedded/run-embedded.js
