#!/usr/bin/env python3
"""Turn MOTChallenge ground truth into detections a tracker has to work for.

Usage: mot_corrupt.py GT.txt OUT.txt [--seed N] [--jitter F] [--drop P] [--fp N] [--min-vis V]

--min-vis reads column 9 as visibility (MOT16+ ground truth) and leaves out boxes below V.

Each true box is dropped with probability P, otherwise jittered (position and size, normal with
sd F × its size) and scored from how visible it is; N false positives per frame on average
(Poisson) are added with lower scores. Output: `frame,-1,x,y,w,h,score,-1,-1,-1`.
"""
import argparse
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument('gt'); ap.add_argument('out')
ap.add_argument('--seed', type=int, default=1); ap.add_argument('--jitter', type=float, default=0.05)
ap.add_argument('--drop', type=float, default=0.1); ap.add_argument('--fp', type=float, default=0.5)
ap.add_argument('--min-vis', type=float, default=0.0)
a = ap.parse_args()
rng = np.random.default_rng(a.seed)
gt = np.loadtxt(a.gt, delimiter=',', ndmin=2)
if gt.shape[1] > 6:
    gt = gt[gt[:, 6] != 0]                      # MOT's "ignore" rows
W = max(640.0, float((gt[:, 2] + gt[:, 4]).max())); H = max(480.0, float((gt[:, 3] + gt[:, 5]).max()))
lines = []
for f in np.unique(gt[:, 0]).astype(int):
    for r in gt[gt[:, 0] == f]:
        vis = r[8] if a.min_vis > 0 and gt.shape[1] > 8 else 1.0
        if vis < a.min_vis or rng.random() < a.drop:
            continue
        w, h = r[4], r[5]; j = rng.normal(scale=a.jitter, size=4)
        score = float(np.clip(rng.normal(0.6 + 0.35 * vis, 0.1), 0.05, 1.0))
        lines.append(f"{f},-1,{r[2] + j[0] * w:.2f},{r[3] + j[1] * h:.2f},{w * (1 + j[2]):.2f},{h * (1 + j[3]):.2f},{score:.3f},-1,-1,-1\n")
    for _ in range(rng.poisson(a.fp)):
        h = rng.uniform(0.1, 0.5) * H; w = 0.4 * h
        lines.append(f"{f},-1,{rng.uniform(0, W - w):.2f},{rng.uniform(0, H - h):.2f},{w:.2f},{h:.2f},{rng.uniform(0.2, 0.7):.3f},-1,-1,-1\n")
open(a.out, 'w').writelines(lines)
