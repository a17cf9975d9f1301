"""The paper's 9-layer MNIST network in PyTorch, timed like src/flagship/bench/training.ts.

Usage: python3 torch_bench.py --threads N --seconds S [--batch 128]
Prints one JSON object per line: {"bench": "training" | "input-gradient", "threads": N,
"value": images_per_second, "steps": ..., "seconds": ...}. Synthetic inputs: throughput does
not depend on the pixel values. Used by `reprobook bench --compare-torch`.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 32, 3)
        self.conv3 = nn.Conv2d(32, 64, 3)
        self.conv4 = nn.Conv2d(64, 64, 3)
        self.fc1 = nn.Linear(4 * 4 * 64, 200)
        self.fc2 = nn.Linear(200, 200)
        self.logits = nn.Linear(200, 10)

    def forward(self, x, dropout=0.0):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x))
        x = F.max_pool2d(F.relu(self.conv4(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        if dropout > 0:
            x = F.dropout(x, dropout, training=True)
        x = F.relu(self.fc2(x))
        return self.logits(x)


def timed(step, seconds, max_steps=1000, warmup=2):
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    c0 = time.process_time()
    steps = 0
    while steps < max_steps:
        step()
        steps += 1
        if time.perf_counter() - t0 >= seconds:
            break
    return steps, time.perf_counter() - t0, time.process_time() - c0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--batch", type=int, default=128)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    net = Net()
    x = torch.rand(a.batch, 1, 28, 28)
    y = torch.arange(a.batch) % 10
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.5)

    def train_step():
        opt.zero_grad()
        loss = F.cross_entropy(net(x, dropout=0.5), y)
        loss.backward()
        opt.step()

    def input_gradient():
        xi = x.clone().requires_grad_(True)
        loss = F.cross_entropy(net(xi), y)
        (g,) = torch.autograd.grad(loss, xi)
        return g

    for name, step in (("training", train_step), ("input-gradient", input_gradient)):
        steps, wall, cpu = timed(step, a.seconds)
        print(json.dumps({
            "bench": name, "threads": a.threads, "value": steps * a.batch / wall,
            "imagesPerCpuSecond": steps * a.batch / cpu if cpu > 0 else None,
            "steps": steps, "seconds": wall, "batch": a.batch, "torch": torch.__version__,
        }), flush=True)


if __name__ == "__main__":
    main()
