import { initBackend, backendIdentity } from '../../src/flagship/ml/backends/select.ts';
import { loadMnist } from '../../src/flagship/ml/data/mnist.ts';
import { trainNetwork, PAPER_TRAIN_CONFIG } from '../../src/flagship/ml/training.ts';
import { evaluateAccuracy } from '../../src/flagship/ml/evaluate.ts';
await initBackend('wasm');
const mnist = await loadMnist();
const t0 = Date.now();
const epochs = Number(process.argv[2] ?? 12);
console.log('backend', backendIdentity(), 'paper T=100 teacher pilot, SGD lr 0.1 mom 0.5, epochs', epochs);
const net = await trainNetwork(mnist.train, { ...PAPER_TRAIN_CONFIG, temperature: 100, epochs }, {
  onEpoch: (r) => console.log(JSON.stringify({ ...r, elapsedS: (Date.now() - t0) / 1000 })),
});
console.log('test accuracy', evaluateAccuracy(net.model, mnist.test), 'total s', (Date.now() - t0) / 1000);
