#!/usr/bin/env python3
"""Generate a synthetic multi-camera scene with exact ground truth (the layout `urbanstream mtmc` reads).

Usage: mtmc_scene.py OUT_DIR [--seed N] [--people N] [--cameras N] [--fps F] [--seconds S]
                     [--height M] [--bad-camera-m M] [--no-embeddings] [--reentries N]

A rectangular room (floor z = 0, metres), people walking between waypoints with pauses, some
entering late, leaving early, or leaving through a door and coming back; pinhole cameras high on
the walls looking at the middle. Boxes stand on the projection of each person's floor point, as tall as the person and 0.41 as wide; a box
less than 35 % visible behind nearer people is not detected; detections get jitter, misses and
false positives; appearance vectors are a prototype per person (some people dressed alike), a
tint per camera and noise that grows with occlusion. `--bad-camera-m` moves one camera's written
calibration (not the camera) so that its floor points are off by about that much.

Writes cameras.json, cam{c}/det.txt, cam{c}/emb.npy, cam{c}/gt.txt and gt_floor.txt.
"""
import argparse, json, os
import numpy as np


def look_at(centre, target):
    """World → camera rotation for a camera at `centre` looking at `target` (image y down)."""
    fwd = target - centre; fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0]); right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    return np.stack([right, down, fwd])


def walk(rng, room, seconds, fps, enter, leave, door, away):
    """Positions (or None when out of the room) for every frame."""
    n = int(seconds * fps)
    pos = [None] * n
    p = rng.uniform([1, 1], room - 1) if enter == 0 else door.copy()
    target = rng.uniform([1, 1], room - 1); speed = rng.uniform(0.8, 1.5); pause = 0.0
    start = int(enter * fps); end = int(leave * fps)
    out_from, out_to = (int(away[0] * fps), int(away[1] * fps)) if away else (n, n)
    for k in range(start, min(end, n)):
        if out_from <= k < out_to:
            p = door.copy(); continue
        if pause > 0:
            pause -= 1 / fps
        else:
            d = target - p; dist = np.linalg.norm(d)
            if dist < 0.2:
                target = rng.uniform([1, 1], room - 1); speed = rng.uniform(0.8, 1.5)
                if rng.random() < 0.3: pause = rng.uniform(1, 4)
            else:
                p = p + d / dist * min(dist, speed / fps)
        pos[k] = p.copy()
    return pos


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out'); ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--people', type=int, default=12); ap.add_argument('--cameras', type=int, default=4)
    ap.add_argument('--fps', type=float, default=10.0); ap.add_argument('--seconds', type=float, default=40.0)
    ap.add_argument('--height', type=float, default=5.0); ap.add_argument('--bad-camera-m', type=float, default=0.0)
    ap.add_argument('--no-embeddings', action='store_true'); ap.add_argument('--reentries', type=int, default=2)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    room = np.array([rng.uniform(16, 24), rng.uniform(12, 18)])
    W, H, f = 1280, 720, rng.uniform(700, 950)
    K = np.array([[f, 0, W / 2], [0, f, H / 2], [0, 0, 1.0]])
    cams = []
    for c in range(a.cameras):
        ang = 2 * np.pi * c / a.cameras + rng.uniform(-0.3, 0.3) + np.pi / 4
        half = room / 2
        centre = np.array([half[0] + np.cos(ang) * half[0] * 1.05, half[1] + np.sin(ang) * half[1] * 1.05, a.height + rng.uniform(-0.5, 0.5)])
        target = np.array([half[0] + rng.uniform(-2, 2), half[1] + rng.uniform(-2, 2), 0.0])
        R = look_at(centre, target); t = -R @ centre
        cams.append((R, t))
    door = np.array([0.3, room[1] / 2])
    people = []
    for i in range(a.people):
        enter = 0 if rng.random() < 0.7 else rng.uniform(0, a.seconds * 0.5)
        leave = a.seconds if rng.random() < 0.8 else rng.uniform(enter + 8, a.seconds + 8)
        away = None
        if i < a.reentries:
            s = rng.uniform(a.seconds * 0.25, a.seconds * 0.45); away = (s, s + rng.uniform(6, 12))
        pos = walk(rng, room, a.seconds, a.fps, enter, leave, door, away)
        people.append(dict(pos=pos, h=rng.uniform(1.55, 1.9), w=rng.uniform(0.45, 0.6)))
    dim = 128
    protos = rng.normal(size=(a.people, dim))
    for i in range(1, a.people, 5):            # some people dressed nearly alike
        protos[i] = protos[i - 1] + 0.35 * rng.normal(size=dim)
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)
    tints = 0.5 * rng.normal(size=(a.cameras, dim)) / np.sqrt(dim)
    n = int(a.seconds * a.fps)
    os.makedirs(a.out, exist_ok=True)
    meta = {}
    with open(os.path.join(a.out, 'gt_floor.txt'), 'w') as gf:
        for k in range(n):
            for i, p in enumerate(people):
                if p['pos'][k] is not None and 0 <= p['pos'][k][0] <= room[0] and p['pos'][k][1] >= 0:
                    if p['pos'][k][0] > 0.5:   # at the door is outside
                        gf.write(f"{k + 1},{i + 1},{p['pos'][k][0]:.3f},{p['pos'][k][1]:.3f}\n")
    for c, (R, t) in enumerate(cams):
        d = os.path.join(a.out, f'cam{c}'); os.makedirs(d, exist_ok=True)
        dets, gts, embs = [], [], []
        for k in range(n):
            boxes = []
            for i, p in enumerate(people):
                q = p['pos'][k]
                if q is None or q[0] <= 0.5: continue
                foot, head = np.array([q[0], q[1], 0.0]), np.array([q[0], q[1], p['h']])
                cam = np.stack([R @ foot + t, R @ head + t])
                if (cam[:, 2] < 0.5).any(): continue
                pix = (K @ cam.T).T; pix = pix[:, :2] / pix[:, 2:]
                bh = pix[0, 1] - pix[1, 1]; bw = 0.41 * bh
                x0, y0, x1, y1 = pix[0, 0] - bw / 2, pix[1, 1], pix[0, 0] + bw / 2, pix[0, 1]
                cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
                if bh < 16 or cx1 - cx0 < 8 or cy1 - cy0 < 16: continue
                inside = (cx1 - cx0) * (cy1 - cy0) / ((x1 - x0) * (y1 - y0))
                boxes.append((np.linalg.norm(cam.mean(0)), i, (x0, y0, x1, y1), inside))
            boxes.sort()
            # Visibility: share of the box not covered by nearer boxes (on a coarse grid).
            for bi, (depth, i, (x0, y0, x1, y1), inside) in enumerate(boxes):
                gx, gy = np.meshgrid(np.linspace(x0, x1, 12), np.linspace(y0, y1, 24))
                covered = np.zeros_like(gx, dtype=bool)
                for _, _, (a0, b0, a1, b1), _ in boxes[:bi]:
                    covered |= (gx >= a0) & (gx <= a1) & (gy >= b0) & (gy <= b1)
                onscreen = (gx >= 0) & (gx <= W) & (gy >= 0) & (gy <= H)
                vis = float((~covered & onscreen).mean())
                w, h = x1 - x0, y1 - y0
                gts.append(f"{k + 1},{i + 1},{x0:.1f},{y0:.1f},{w:.1f},{h:.1f},1,1,{vis:.3f}\n")
                if vis < 0.35 or rng.random() < 0.06: continue
                j = rng.normal(scale=0.04, size=4)
                bx, by, bw, bh = x0 + j[0] * w, y0 + j[1] * h, w * (1 + j[2]), h * (1 + j[3])
                score = float(np.clip(rng.normal(0.55 + 0.4 * vis, 0.1), 0.05, 1.0))
                dets.append(f"{k + 1},-1,{bx:.1f},{by:.1f},{bw:.1f},{bh:.1f},{score:.3f},-1,-1,-1\n")
                e = protos[i] + tints[c] + rng.normal(scale=0.04 + 0.12 * (1 - vis), size=dim)
                embs.append(e / np.linalg.norm(e))
            for _ in range(rng.poisson(0.3)):
                h = rng.uniform(60, 250); w = h * rng.uniform(0.3, 0.5)
                dets.append(f"{k + 1},-1,{rng.uniform(0, W - w):.1f},{rng.uniform(0, H - h):.1f},{w:.1f},{h:.1f},{rng.uniform(0.3, 0.75):.3f},-1,-1,-1\n")
                e = rng.normal(size=dim); embs.append(e / np.linalg.norm(e))
        open(os.path.join(d, 'det.txt'), 'w').writelines(dets)
        open(os.path.join(d, 'gt.txt'), 'w').writelines(gts)
        if not a.no_embeddings:
            np.save(os.path.join(d, 'emb.npy'), np.array(embs, dtype=np.float32).reshape(-1, dim))
        Rw, tw = R, t
        if c == 0 and a.bad_camera_m > 0:
            # The written calibration says the camera stands elsewhere than it does.
            centre = -R.T @ t; shift = rng.normal(size=2); shift = shift / np.linalg.norm(shift) * a.bad_camera_m
            centre = centre + np.array([shift[0], shift[1], 0.0]); tw = -R @ centre
        Hf = K @ np.stack([Rw[:, 0], Rw[:, 1], tw], axis=1); Hi = np.linalg.inv(Hf); Hi /= Hi[2, 2]
        meta[str(c)] = dict(K=K.tolist(), R=Rw.tolist(), t=tw.tolist(), size=[W, H], fps=a.fps, H_img_to_floor=Hi.tolist())
    json.dump(meta, open(os.path.join(a.out, 'cameras.json'), 'w'), indent=1)


if __name__ == '__main__':
    main()
