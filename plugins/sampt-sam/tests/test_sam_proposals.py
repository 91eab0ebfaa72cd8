"""VIS proposals through a SAM-family plugin: sampt's grid prompting (sampt.evaluation.vis.proposals) asks the
MobileSAM segmenter (keyed checkpoint) for its three candidate masks per grid point and keeps them by
predicted IoU."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.slow  # builds MobileSAM from a keyed checkpoint (~30 CPU seconds)
def test_grid_proposals_from_mobile_sam(tmp_path):
    from sampt.evaluation.vis.proposals import ProposalOptions, grid_points, propose
    from sampt.plugins import Registry
    from sampt.types import Prompt
    from sampt_sam.testing import keyed_checkpoint

    path, _ = keyed_checkpoint("mobile_sam", tmp_path / "mobile_sam.pth")
    seg = Registry().create("segmenter", "mobile_sam", checkpoint=str(path), device="cpu")
    image = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    opts = ProposalOptions(points_per_side=3, points_per_batch=4, pred_iou_thresh=-1e9, stability_score_thresh=0,
                           box_nms_thresh=1.0, min_mask_area=1)
    embedding = seg.encode(image)

    class Encoded:  # the segmenter with this image already encoded (one encoder run for the whole test)
        def encode(self, img):
            assert img is image
            return embedding

        decode = staticmethod(seg.decode)
        decode_candidates = staticmethod(seg.decode_candidates)

    props = propose(Encoded(), image, opts)
    # each kept proposal is one of the segmenter's three answers to a grid click, scored by its predicted IoU
    clicks = [Prompt(points=p[None], labels=np.ones(1)) for p in grid_points(3, 40, 56)]
    answers = [a for per_click in seg.decode_candidates(embedding, clicks) for a in per_click]
    assert len(answers) == 27
    assert seg.encoder_calls == 1
    expected = sorted((a for a in answers if (a.logits > 0).any()), key=lambda a: -a.iou)
    assert len(props) == len(expected)
    for p, a in zip(props, expected):
        assert p.mask.shape == (40, 56) and p.frame == 0
        assert abs(p.score - a.iou) < 1e-4
