"""Time of one interactive edit against a full re-run (issue 15's figure).

A 100-frame synthetic clip; one object added from its first-frame mask and every frame segmented. Then a
positive point is added on frame 50 (at the centre of the object's largest missed region there, as the
interactive benchmark would place it) and the session brought up to date: that is the edit. It is compared
with a full re-run: ``SamPt.run`` on the same clip (every frame encoded, tracked, segmented), and with a
fresh session doing the same work from scratch (object + point + propagate).

    python benchmarks/bench_interactive_edit.py [--frames 100] [--repeats 3] [KEY=VALUE config overrides]

Prints a table and writes ``--output`` (JSON) when given. Figures depend on the machine's load: the
process CPU seconds are reported beside the wall-clock ones.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path



def _clock():
    return time.perf_counter(), time.process_time()


def _since(start):
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def main(argv=None) -> int:
    from sampt.config import build_pipeline, compose
    from sampt.data.synthetic import make_clip
    from sampt.interactive import Session
    from sampt.evaluation.interactive_bench.benchmark import representative_point
    from sampt.pipeline import ObjectPrompt

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("overrides", nargs="*", help="config overrides (default: pipeline=fast)")
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--edit-frame", type=int, default=50)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--output", help="write the figures as JSON here")
    args = p.parse_args(argv)
    cfg = compose(args.overrides or ["pipeline=fast"])
    clip = make_clip(seed=0, num_frames=args.frames, height=96, width=128, num_objects=1)
    video, gt = clip.video, clip.masks[:, 0]
    t = args.edit_frame

    rows = {"answer": [], "answer_cpu": [], "edit": [], "edit_cpu": [], "rerun": [], "rerun_cpu": [], "fresh_session": [], "fresh_session_cpu": []}
    details = {}
    for _ in range(args.repeats):
        with Session.from_config(cfg, video) as session:
            session.add_object(1, 0, mask=gt[0])
            session.propagate()
            before = session.stats()
            pred = session.mask(t, 1)
            x, y = representative_point(gt[t] & ~pred) or representative_point(gt[t])
            start = _clock()
            change = session.add_point(1, t, float(x), float(y))
            session.mask(t, 1)  # what a UI shows at once: the edited frame
            answer_wall, answer_cpu = _since(start)
            session.propagate()
            wall, cpu = _since(start)
            rows["answer"].append(answer_wall)
            rows["answer_cpu"].append(answer_cpu)
            after = session.stats()
            rows["edit"].append(wall)
            rows["edit_cpu"].append(cpu)
            details = {"changed_frames": [change.frames.start, change.frames.stop],
                       "segmented_pairs": after["segmented_pairs"] - before["segmented_pairs"],
                       "encoder_calls_during_edit": after["encoder_calls"] - before["encoder_calls"],
                       "tracking_seconds": after["tracking_seconds"] - before["tracking_seconds"]}
        pipeline = build_pipeline(cfg)
        start = _clock()
        pipeline.run(video, [ObjectPrompt(1, 0, mask=gt[0])])
        wall, cpu = _since(start)
        rows["rerun"].append(wall)
        rows["rerun_cpu"].append(cpu)
        start = _clock()
        with Session.from_config(cfg, video) as fresh:
            fresh.add_object(1, 0, mask=gt[0])
            fresh.add_point(1, t, float(x), float(y))
            fresh.propagate()
        wall, cpu = _since(start)
        rows["fresh_session"].append(wall)
        rows["fresh_session_cpu"].append(cpu)

    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"{args.frames}-frame clip 128x96, tracker {cfg.tracker.name}, segmenter {cfg.segmenter.name}, "
          f"overrides {' '.join(args.overrides or ['pipeline=fast'])}; median of {args.repeats}")
    print(f"  edit (add a point on frame {t}, propagate): {med['edit']:.2f} s wall, {med['edit_cpu']:.2f} s CPU; "
          f"{details['segmented_pairs']} frame masks re-segmented, {details['encoder_calls_during_edit']} frames encoded")
    print(f"  of which the edited frame's new mask:      {med['answer']:.2f} s wall, {med['answer_cpu']:.2f} s CPU")
    print(f"  full re-run (SamPt.run):                   {med['rerun']:.2f} s wall, {med['rerun_cpu']:.2f} s CPU")
    print(f"  fresh session (object + point + propagate): {med['fresh_session']:.2f} s wall, "
          f"{med['fresh_session_cpu']:.2f} s CPU")
    print(f"  speed-up over a full re-run (CPU): {med['rerun_cpu'] / max(med['edit_cpu'], 1e-9):.1f}x for the whole edit, "
          f"{med['rerun_cpu'] / max(med['answer_cpu'], 1e-9):.0f}x for the edited frame's mask")
    if args.output:
        Path(args.output).write_text(json.dumps({"median": med, "runs": rows, "edit": details,
                                                 "frames": args.frames, "edit_frame": t,
                                                 "overrides": args.overrides or ["pipeline=fast"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
