// The WebGPU packages are installed only where there is a GPU (webgpu.ts); their import()s
// must still type-check without them. webgpu.ts describes the little it uses of each.
declare module 'webgpu';
declare module '@tensorflow/tfjs-backend-webgpu';
