#!/usr/bin/env python3
"""Score `urbanstream mtmc` (or `track`) output against ground truth; prints one JSON object.

Usage: mtmc_score.py SCENE_DIR OUT_DIR          a multi-camera scene (cam{c}/gt.txt, gt_floor.txt)
       mtmc_score.py --single GT.txt RES.txt    one camera (MOTChallenge gt and result files)

Boxes match at IoU ≥ 0.5 (in a scene, ground truth under 35 % visible is not scored);
floor points match within 1 m. Reports MOTA, IDF1 and ID switches per camera, cross-camera IDF1
over pooled (camera, frame) keys, floor MOTA / IDF1 / RMSE, and predicted / true identities.
Needs: pip install motmetrics 'numpy<2' scipy pandas
"""
import glob, json, os, sys
import numpy as np, motmetrics as mm


def load(path, cols):
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return np.zeros((0, cols))
    return np.loadtxt(path, delimiter=',', ndmin=2)[:, :cols]


def box_acc(gt, res):
    acc = mm.MOTAccumulator(auto_id=True)
    frames = sorted(set(gt[:, 0]) | set(res[:, 0]))
    for f in frames:
        g, h = gt[gt[:, 0] == f], res[res[:, 0] == f]
        d = mm.distances.iou_matrix(g[:, 2:6], h[:, 2:6], max_iou=0.5)
        acc.update(g[:, 1].astype(int).tolist(), h[:, 1].astype(int).tolist(), d)
    return acc


def metrics(acc, name):
    m = mm.metrics.create().compute(acc, metrics=['mota', 'idf1', 'num_switches', 'recall', 'precision'], name=name)
    return {k: float(m[k].iloc[0]) for k in m.columns}


def visible(gt):
    return gt[gt[:, 8] >= 0.35] if gt.shape[1] > 8 and len(gt) else gt


def scene(scene_dir, out_dir):
    report = {'cameras': {}}
    pooled_g, pooled_h = [], []
    for d in sorted(glob.glob(os.path.join(scene_dir, 'cam[0-9]*'))):
        c = int(os.path.basename(d)[3:])
        g = visible(load(os.path.join(d, 'gt.txt'), 9)); h = load(os.path.join(out_dir, f'cam{c}', 'res.txt'), 7)
        report['cameras'][c] = metrics(box_acc(g, h), f'cam{c}')
        key = lambda a: np.column_stack([a[:, 0] + c * 1_000_000, a[:, 1:6]]) if len(a) else np.zeros((0, 6))
        pooled_g.append(key(g)); pooled_h.append(key(h))
    report['mtmc_idf1'] = metrics(box_acc(np.vstack(pooled_g), np.vstack(pooled_h)), 'mtmc')['idf1']
    gf = load(os.path.join(scene_dir, 'gt_floor.txt'), 4); hf = load(os.path.join(out_dir, 'floor.txt'), 4)
    acc = mm.MOTAccumulator(auto_id=True); sq = []
    for f in range(1, int(gf[:, 0].max()) + 1):
        g, h = gf[gf[:, 0] == f], hf[hf[:, 0] == f]
        d = mm.distances.norm2squared_matrix(g[:, 2:4], h[:, 2:4], max_d2=1.0)
        acc.update(g[:, 1].astype(int).tolist(), h[:, 1].astype(int).tolist(), d)
        for ev in acc.mot_events.loc[acc.mot_events.index.get_level_values(0).max()].itertuples():
            if ev.Type in ('MATCH', 'SWITCH') and not np.isnan(ev.D):
                sq.append(ev.D)
    report['floor'] = metrics(acc, 'floor')
    report['floor_rmse_m'] = float(np.sqrt(np.mean(sq))) if sq else None
    report['identity_ratio'] = len(np.unique(hf[:, 1])) / max(1, len(np.unique(gf[:, 1])))
    cams = report['cameras'].values()
    report['camera_mota'] = float(np.mean([m['mota'] for m in cams])); report['camera_idf1'] = float(np.mean([m['idf1'] for m in cams]))
    return report


if __name__ == '__main__':
    if len(sys.argv) == 4 and sys.argv[1] == '--single':
        print(json.dumps(metrics(box_acc(load(sys.argv[2], 6), load(sys.argv[3], 7)), 'single')))
    elif len(sys.argv) == 3:
        print(json.dumps(scene(sys.argv[1], sys.argv[2])))
    else:
        sys.exit(__doc__)
