// Registers KEDA's external scaler as the `keda` component of `governor serve` (imported by src/cli.ts for this side
// effect). grpc-js and the proto load only when the scaler is asked for: every other command starts without them.
import { serveComponents } from '../cli/serve.js';

serveComponents.keda = async (ctx, certs) => (await import('./component.js')).kedaScalerComponent(ctx, certs);
