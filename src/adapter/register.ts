// Registers the adapter as the `adapter` component of `governor serve` (imported by src/cli.ts for this side effect).
import { serveComponents } from '../cli/serve.js';
import { adapterComponent } from './component.js';

serveComponents.adapter = adapterComponent;
