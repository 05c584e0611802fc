// Part of `npm run build`: the dashboard's page (src/dashboard/public), the
// routes it calls and uPlot's browser build (from node_modules) go to dist/ui,
// which every node serves at /ui/.
import { cpSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const uplot = join(dirname(createRequire(import.meta.url).resolve('uplot')), '..', 'dist');
const out = 'dist/ui';
mkdirSync(join(out, 'vendor'), { recursive: true });
cpSync('src/dashboard/public', out, { recursive: true });
for (const file of ['uPlot.iife.min.js', 'uPlot.min.css']) cpSync(join(uplot, file), join(out, 'vendor', file));
// The page's routes come from the server's own declaration, compiled by tsc just before.
cpSync('dist/src/protocol/paths.js', join(out, 'paths.js'));
