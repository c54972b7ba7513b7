#!/usr/bin/python3
"""The default saxdetect CNN in Python PyTorch, trained like bench_model_train: random
128x108 inputs, batch 16, Adam with weight decay, gradient clipping, class-weighted BCE.
Prints training samples per second (the training loop only, as the C++ side measures).
usage: model_torch.py [samples=320] [epochs=2] [threads=0: all cores]"""
import os
import sys
import time

import torch
from torch import nn

samples = int(sys.argv[1]) if len(sys.argv) > 1 else 320
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 0
torch.set_num_threads(threads if threads > 0 else os.cpu_count())
torch.manual_seed(1)

# NetConfig defaults with the window head (bench_model_train asks for it): 5 blocks,
# channels 16 doubling to 64, kernels 5,3,3,3,3, batch norm,
# max pool, hidden 64, dropout 0.3.
layers, c_in = [], 1
for block, (c_out, k) in enumerate([(16, 5), (32, 3), (64, 3), (64, 3), (64, 3)]):
    layers += [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
    c_in = c_out
features = nn.Sequential(*layers)
with torch.no_grad():
    fc_inputs = features(torch.zeros(1, 1, 128, 108)).numel()
net = nn.Sequential(features, nn.Flatten(), nn.Dropout(0.3), nn.Linear(fc_inputs, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 1))
optimiser = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
x_all = torch.randn(samples, 128, 108)
y_all = (torch.arange(samples) % 2).float()
train = [i for i in range(samples) if i % 10 > 1]

seen, seconds = 0, 0.0
for epoch in range(epochs):
    start = time.perf_counter()
    net.train()
    order = torch.tensor(train)[torch.randperm(len(train))]
    for first in range(0, len(order), 16):
        idx = order[first:first + 16]
        if len(idx) < 2:
            continue
        x = x_all[idx]
        x = (x - x.mean(dim=(1, 2), keepdim=True)) / (x.std(dim=(1, 2), unbiased=False, keepdim=True) + 1e-5)
        y = y_all[idx]
        optimiser.zero_grad()
        logits = net(x.unsqueeze(1)).squeeze(1)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y, weight=torch.ones_like(y))
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optimiser.step()
        seen += len(idx)
    seconds += time.perf_counter() - start
print(f"python_samples_per_second {seen / seconds:.2f}")
print(f"python_fc_inputs {fc_inputs}")
