#!/usr/bin/env bash
# The bench on a lent GPU machine (issue 25, item 4), which reaches no package registry.
#
#   src/flagship/bench/gpu-check.sh pack          here, where the npm registry answers: writes
#       .gpu-check/ (ignored by git, under 64 MiB): Node (xz), the bench bundled into one file
#       with tfjs and @tensorflow/tfjs-backend-webgpu, Dawn (the webgpu package's linux-x64
#       dawn.node) and the Vulkan loader libvulkan.so.1 if this machine has it.
#   src/flagship/bench/gpu-check.sh run [SECONDS] on the GPU machine, from the checkout's root:
#       prints what the machine offers (nvidia-smi, Vulkan drivers), then the bench on the
#       webgpu backend (gpu-check.ts); uses the machine's node if it is 20 or newer, else the
#       carried one; the carried libvulkan only where the machine has none.
#
# With the device tool: run(command: "src/flagship/bench/gpu-check.sh run 10", carry: [".gpu-check"]).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out="$root/.gpu-check"

pack() {
  rm -rf "$out"
  mkdir -p "$out/node_modules/webgpu/dist/linux-x64" "$out/lib"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm init -y >/dev/null && npm install --no-audit --no-fund --ignore-scripts --legacy-peer-deps webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0 >/dev/null)
  # One tfjs-core and one tfjs-backend-cpu in the bundle: the project's own.
  rm -rf "$tmp/node_modules/@tensorflow/tfjs-backend-cpu" "$tmp/node_modules/@tensorflow/tfjs-core"
  cp "$tmp/node_modules/webgpu/index.js" "$tmp/node_modules/webgpu/package.json" "$out/node_modules/webgpu/"
  cp "$tmp/node_modules/webgpu/dist/linux-x64/dawn.node" "$out/node_modules/webgpu/dist/linux-x64/"
  # Its package.json only, for the versions line of the report (the code is in the bundle).
  mkdir -p "$out/node_modules/@tensorflow/tfjs-backend-webgpu"
  cp "$tmp/node_modules/@tensorflow/tfjs-backend-webgpu/package.json" "$out/node_modules/@tensorflow/tfjs-backend-webgpu/"
  # webgpu stays outside the bundle (it loads dawn.node beside itself); the rest is inside.
  NODE_PATH="$tmp/node_modules:$root/node_modules" "$root/node_modules/.bin/esbuild" "$here/gpu-check.ts" \
    --bundle --platform=node --format=esm --target=node20 --log-level=warning \
    --outfile="$out/gpu-check.mjs" --external:webgpu --external:@tensorflow/tfjs-node \
    --external:@tensorflow/tfjs-node-gpu --external:@tensorflow/tfjs-backend-wasm \
    --banner:js="import { createRequire as bannerRequire } from 'node:module'; const require = bannerRequire(import.meta.url);"
  xz -T0 -6 -c "$(readlink -f "$(command -v node)")" > "$out/node.xz"
  local vk
  vk=$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ { print $NF; exit }')
  if [ -n "$vk" ]; then cp -L "$vk" "$out/lib/libvulkan.so.1"; fi
  echo "carry .gpu-check ($(du -sh "$out" | cut -f1)): node $(node -v), webgpu 0.6.2, tfjs-backend-webgpu 4.22.0${vk:+, libvulkan.so.1}"
}

run() {
  [ -f "$out/gpu-check.mjs" ] || { echo "no $out/gpu-check.mjs: run 'src/flagship/bench/gpu-check.sh pack' where npm works, and carry .gpu-check" >&2; exit 2; }
  echo "== the machine"
  nvidia-smi -L 2>&1 || echo "nvidia-smi: not found"
  ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null || echo "no Vulkan ICD folder (the NVIDIA driver's nvidia_icd.json is what Dawn needs)"
  # Lent NVIDIA machines keep the driver's Vulkan manifest outside the standard folders.
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; echo "Vulkan driver: $icd"; fi
  if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
    echo "no libvulkan.so.1 here: using the carried one"
    export LD_LIBRARY_PATH="$out/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  local node
  node=$(command -v node || true)
  if [ -z "$node" ] || [ "$("$node" -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    node="${TMPDIR:-/tmp}/reprobook-gpu-check-node"
    xz -dc "$out/node.xz" > "$node" && chmod +x "$node"
    echo "using the carried node $("$node" -v)"
  fi
  echo "== the bench"
  cd "$out" && "$node" gpu-check.mjs webgpu "${1:-10}"
}

case "${1:-}" in
  pack) pack ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 pack | run [SECONDS]" >&2; exit 2 ;;
esac
