// Registers KEDA's external scaler as the `keda` component of `governor serve` (imported by src/cli.ts for this side effect).
import { serveComponents } from '../cli/serve.js';
import { kedaScalerComponent } from './component.js';

serveComponents.keda = kedaScalerComponent;
